"""Kernel-enforced confinement of the sandbox child. Standard library only.

The harness runs with ``python -I -S``: no site-packages, so no third-party binding for
seccomp or Landlock is importable there (and the ones on PyPI are unmaintained or
pre-releases). The few system calls needed are made through ``ctypes`` instead. Every
guarantee here is the kernel's: once applied, nothing the submission does in Python
(including loading ctypes itself) can lift it.

Order matters and is the caller's (``sandbox_harness.py``): namespaces, then fork (the
child is PID 1 of a fresh PID namespace), then in the child build the Landlock ruleset
while the standard library is still readable, drop the uid or capabilities, set
no_new_privs, restrict, and install the seccomp filter last.
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct

__all__ = [
    "NOBODY",
    "Unavailable",
    "bind_over",
    "bind_stdlib",
    "drop_capabilities",
    "drop_to_nobody",
    "enter_namespaces",
    "install_seccomp",
    "landlock_abi",
    "landlock_restrict",
    "landlock_ruleset",
    "mount_refused",
    "no_new_privs",
    "parent_death_signal",
    "require_platform",
]

NOBODY = 65534
LANDLOCK_MIN_ABI = 3  # ABI 3 (Linux 6.2) is the first that also stops truncate() outside the rules

CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x00020000, 0x10000000, 0x20000000, 0x40000000
# Every namespace flag: clone() with any of them is how a child would build its own view.
CLONE_NS_MASK = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000 | 0x00000080
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND = 0x1, 0x2, 0x4, 0x8, 0x20, 0x1000
MS_REC, MS_PRIVATE = 0x4000, 0x40000
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP = 1, 4, 38, 22
SECCOMP_MODE_FILTER = 2

SYS_LANDLOCK_CREATE_RULESET, SYS_LANDLOCK_ADD_RULE, SYS_LANDLOCK_RESTRICT_SELF = 444, 445, 446
LANDLOCK_CREATE_RULESET_VERSION = 1
LANDLOCK_RULE_PATH_BENEATH = 1
FS_EXECUTE, FS_WRITE_FILE, FS_READ_FILE, FS_READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
FS_REFER, FS_TRUNCATE, FS_IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
FS_FILE_ONLY = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV
NET_BIND_TCP, NET_CONNECT_TCP = 1, 2
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1, 2
_ADD_RULE, _PATH_BENEATH, _NO_FLAGS = (
    ctypes.c_long(SYS_LANDLOCK_ADD_RULE),
    ctypes.c_int(LANDLOCK_RULE_PATH_BENEATH),
    ctypes.c_uint32(0),
)
# Never readable, even though they sit in the standard library folder: third-party code.
NOT_STDLIB = frozenset({"site-packages", "dist-packages"})

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]


class Unavailable(RuntimeError):
    """A required mechanism is missing; the message says which and what to do, in one line."""


def _fail(what: str) -> OSError:
    code = ctypes.get_errno()
    return OSError(code, f"{what}: {os.strerror(code)}")


# -- seccomp: syscall numbers per architecture (x86_64 from asm/unistd_64.h, aarch64 from asm-generic) --

_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
_X86_64 = {
    "socket": 41, "socketpair": 53, "clone": 56, "clone3": 435, "prlimit64": 302,
    "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311, "kcmp": 312,
    "kill": 62, "tkill": 200, "tgkill": 234, "rt_sigqueueinfo": 129, "rt_tgsigqueueinfo": 297,
    "pidfd_open": 434, "pidfd_send_signal": 424, "pidfd_getfd": 438, "setsid": 112, "setpgid": 109,
    "execve": 59, "execveat": 322, "unshare": 272, "setns": 308, "bpf": 321, "perf_event_open": 298,
    "userfaultfd": 323, "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
    "mount": 165, "umount2": 166, "pivot_root": 155, "chroot": 161, "open_tree": 428, "move_mount": 429,
    "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433, "mount_setattr": 442,
    "open_by_handle_at": 304, "name_to_handle_at": 303, "mknod": 133, "mknodat": 259,
    "keyctl": 250, "add_key": 248, "request_key": 249, "fanotify_init": 300, "quotactl": 179,
    "kexec_load": 246, "kexec_file_load": 320, "init_module": 175, "finit_module": 313, "delete_module": 176,
    "reboot": 169, "swapon": 167, "swapoff": 168, "syslog": 103, "acct": 163, "personality": 135,
    "ioperm": 173, "iopl": 172, "move_pages": 279, "migrate_pages": 256,
    "sethostname": 170, "setdomainname": 171, "settimeofday": 164, "clock_settime": 227, "clock_adjtime": 305,
    "adjtimex": 159,
    "chmod": 90, "fchmod": 91, "fchmodat": 268, "fchmodat2": 452, "chown": 92, "fchown": 93, "lchown": 94,
    "fchownat": 260, "utime": 132, "utimes": 235, "futimesat": 261, "utimensat": 280,
    "setxattr": 188, "lsetxattr": 189, "fsetxattr": 190, "removexattr": 197, "lremovexattr": 198,
    "fremovexattr": 199, "setxattrat": 463, "removexattrat": 466,
}  # fmt: skip
_AARCH64 = {
    "socket": 198, "socketpair": 199, "clone": 220, "clone3": 435, "prlimit64": 261,
    "ptrace": 117, "process_vm_readv": 270, "process_vm_writev": 271, "kcmp": 272,
    "kill": 129, "tkill": 130, "tgkill": 131, "rt_sigqueueinfo": 138, "rt_tgsigqueueinfo": 240,
    "pidfd_open": 434, "pidfd_send_signal": 424, "pidfd_getfd": 438, "setsid": 157, "setpgid": 154,
    "execve": 221, "execveat": 281, "unshare": 97, "setns": 268, "bpf": 280, "perf_event_open": 241,
    "userfaultfd": 282, "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
    "mount": 40, "umount2": 39, "pivot_root": 41, "chroot": 51, "open_tree": 428, "move_mount": 429,
    "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433, "mount_setattr": 442,
    "open_by_handle_at": 265, "name_to_handle_at": 264, "mknodat": 33,
    "keyctl": 219, "add_key": 217, "request_key": 218, "fanotify_init": 262, "quotactl": 60,
    "kexec_load": 104, "kexec_file_load": 294, "init_module": 105, "finit_module": 273, "delete_module": 106,
    "reboot": 142, "swapon": 224, "swapoff": 225, "syslog": 116, "acct": 89, "personality": 92,
    "move_pages": 239, "migrate_pages": 238,
    "sethostname": 161, "setdomainname": 162, "settimeofday": 170, "clock_settime": 112, "clock_adjtime": 266,
    "adjtimex": 171,
    "fchmod": 52, "fchmodat": 53, "fchmodat2": 452, "fchownat": 54, "fchown": 55, "utimensat": 88,
    "setxattr": 5, "lsetxattr": 6, "fsetxattr": 7, "removexattr": 14, "lremovexattr": 15,
    "fremovexattr": 16, "setxattrat": 463, "removexattrat": 466,
}  # fmt: skip
_SYSCALLS = {"x86_64": _X86_64, "aarch64": _AARCH64}
# Checked one by one below rather than denied outright.
_SPECIAL = frozenset({"socketpair", "clone", "clone3", "prlimit64"})
AF_UNIX = 1


def require_platform() -> str:
    """The machine name, if seccomp's syscall table here is known; else Unavailable."""
    machine = os.uname().machine
    if os.uname().sysname != "Linux" or machine not in _ARCH:
        raise Unavailable(
            f"python_sandbox needs Linux on x86_64 or aarch64 for its seccomp filter, not {os.uname().sysname} "
            f"{machine}: run the server on such a machine"
        )
    return machine


def _bpf_program(machine: str, *, no_clone: bool = False) -> bytes:
    """A seccomp filter: EPERM for the calls a submission has no use for, ALLOW for the rest.

    Denying with an error (not killing) keeps a failing call an ordinary OSError; the
    harness reports the run as the submission's failure either way. ``no_clone``: EPERM for
    every clone, threads included, for a child whose RLIMIT_NPROC the kernel does not
    enforce (host uid 0 is exempt from it, in any user namespace).
    """
    table = _SYSCALLS[machine]
    ld, jeq, jge, jset, ret = 0x20, 0x15, 0x35, 0x45, 0x06
    allow, kill = 0x7FFF0000, 0x80000000
    deny, nosys = 0x00050000 | errno.EPERM, 0x00050000 | errno.ENOSYS
    # (code, k, jump-if-true label, jump-if-false label); labels are resolved to offsets at the end.
    prog: list[tuple[int, int, str | None, str | None]] = [
        (ld, 4, None, None),  # seccomp_data.arch
        (jeq, _ARCH[machine], None, "KILL"),  # a foreign ABI would use other numbers: never let it in
        (ld, 0, None, None),  # seccomp_data.nr
    ]
    if machine == "x86_64":
        prog.append((jge, 0x40000000, "DENY", None))  # the x32 ABI aliases every call above 0x40000000
    for name, number in sorted(table.items()):
        if name not in _SPECIAL:
            prog.append((jeq, number, "DENY", None))
    prog += [
        # clone3 passes its flags in memory BPF cannot read: ENOSYS makes libc fall back to clone.
        (jeq, table["clone3"], "NOSYS", None),
        (jeq, table["clone"], "DENY" if no_clone else "CLONE", None),
        (jeq, table["socketpair"], "PAIR", None),
        (jeq, table["prlimit64"], "PRLIMIT", None),
        (ret, allow, None, None),
        ("CLONE", 0, None, None),  # type: ignore[list-item]
        (ld, 16, None, None),  # args[0] low word: the clone flags
        (jset, CLONE_NS_MASK, "DENY", "ALLOW"),
        ("PAIR", 0, None, None),  # type: ignore[list-item]
        (ld, 16, None, None),  # args[0]: the family; a connected pair of AF_UNIX sockets reaches nothing
        (jeq, AF_UNIX, "ALLOW", "DENY"),
        ("PRLIMIT", 0, None, None),  # type: ignore[list-item]
        (ld, 16, None, None),  # args[0]: the pid; 0 is itself, whose hard limits it cannot raise
        (jeq, 0, "ALLOW", "DENY"),
        ("ALLOW", 0, None, None),  # type: ignore[list-item]
        (ret, allow, None, None),
        ("DENY", 0, None, None),  # type: ignore[list-item]
        (ret, deny, None, None),
        ("NOSYS", 0, None, None),  # type: ignore[list-item]
        (ret, nosys, None, None),
        ("KILL", 0, None, None),  # type: ignore[list-item]
        (ret, kill, None, None),
    ]
    labels: dict[str, int] = {}
    code: list[tuple[int, int, str | None, str | None]] = []
    for item in prog:
        if isinstance(item[0], str):
            labels[item[0]] = len(code)
        else:
            code.append(item)
    out = b""
    for index, (op, k, on_true, on_false) in enumerate(code):
        jt = labels[on_true] - index - 1 if on_true else 0
        jf = labels[on_false] - index - 1 if on_false else 0
        assert 0 <= jt < 256 and 0 <= jf < 256, "a jump too far for classic BPF"
        out += struct.pack("=HBBI", op, jt, jf, k)
    return out


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install_seccomp(machine: str, *, no_clone: bool = False) -> None:
    program = _bpf_program(machine, no_clone=no_clone)
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // 8, ctypes.addressof(buffer))
    if _libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fprog), 0, 0) != 0:
        raise Unavailable(f"python_sandbox: seccomp filter refused ({_fail('prctl').strerror}): enable CONFIG_SECCOMP")


# -- process state ---------------------------------------------------------------------------


def _prctl(option: int, value: int) -> None:
    if _libc.prctl(option, value, 0, 0, 0) != 0:
        raise _fail(f"prctl({option})")


def parent_death_signal(signal_number: int) -> None:
    """Die with the parent: the kernel sends ``signal_number`` when the parent exits."""
    _prctl(PR_SET_PDEATHSIG, signal_number)


def no_new_privs() -> None:
    # Required by seccomp and Landlock for an unprivileged caller; also makes set-uid binaries inert.
    _prctl(PR_SET_NO_NEW_PRIVS, 1)
    _prctl(PR_SET_DUMPABLE, 0)  # /proc/self becomes root's and same-uid ptrace is refused


def enter_namespaces(
    as_root: bool, work: str, tmpfs_bytes: int, *, network: bool, mounts: bool = True, max_files: int = 2048
) -> list[str]:
    """Leave the server's user (unless root), network, PID and mount namespaces; the layers' names.

    The PID namespace applies to the next child only, so the caller forks afterwards.
    ``work`` gets a private, size-capped tmpfs: the submission's writes go to memory that
    vanishes with the namespace, never to the server's disk.

    ``mounts=False`` is for a server inside another Landlock domain, which refuses mount(2)
    in any namespace: no mount namespace and no tmpfs, but a user namespace also as root, so
    the capabilities it grants stay inside it (and are dropped).
    """
    uid, gid = os.getuid(), os.getgid()
    user = not as_root or not mounts
    flags = CLONE_NEWPID | (CLONE_NEWNET if network else 0) | (CLONE_NEWUSER if user else 0)
    flags |= CLONE_NEWNS if mounts else 0
    if _libc.unshare(flags) != 0:
        reason = _fail("unshare").strerror
        if as_root and mounts:
            raise Unavailable(
                f"python_sandbox: cannot create network/PID/mount namespaces as root ({reason}): "
                "run the server with CAP_SYS_ADMIN (outside a restricted container)"
            )
        raise Unavailable(
            f"python_sandbox: cannot create an unprivileged user namespace ({reason}): set "
            "kernel.unprivileged_userns_clone=1 / user.max_user_namespaces>0 (and on Ubuntu "
            "kernel.apparmor_restrict_unprivileged_userns=0), or run the server as root"
            + ("" if mounts else " outside a Landlock domain")
        )
    layers = ["pid_namespace"] + (["mount_namespace"] if mounts else []) + (["network_namespace"] if network else [])
    if not mounts:
        # The outer domain refuses writes to /proc as well, so no id map can be written: the
        # child's ids show as 65534 inside while the kernel keeps the server's for every
        # check (files it creates are the server's uid's, as with a map).
        return ["user_namespace", *layers, "mountless"]
    if user:
        # Map our own ids only: files the child creates stay ours, nothing else is reachable.
        for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
            with open(f"/proc/self/{name}", "w", encoding="ascii") as fh:
                fh.write(text)
        layers.insert(0, "user_namespace")
    # Without this a mount below a shared mount would propagate back to the server's namespace.
    if _libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        raise Unavailable(f"python_sandbox: cannot make mounts private ({_fail('mount').strerror})")
    options = f"size={tmpfs_bytes},nr_inodes={max_files},mode=0700"
    if as_root:
        options += f",uid={NOBODY},gid={NOBODY}"
    flags = MS_NOSUID | MS_NODEV | MS_NOEXEC
    if _libc.mount(b"gymkit-sandbox", os.fsencode(work), b"tmpfs", flags, options.encode()) != 0:
        raise Unavailable(f"python_sandbox: cannot mount a tmpfs for the sandbox ({_fail('mount').strerror})")
    layers.append("tmpfs")
    return layers


def bind_stdlib(stdlib: str, target: str) -> None:
    """Show ``stdlib`` read-only at ``target`` (in the child's own mount namespace).

    For root's server only: its interpreter often lives under /root (mode 700), which
    uid 65534 cannot pass through; the bind gives the unprivileged child a path to the
    same, world-readable files.
    """
    os.mkdir(target, 0o755)
    source, where = os.fsencode(stdlib), os.fsencode(target)
    if _libc.mount(source, where, None, MS_BIND | MS_REC, None) != 0:
        raise Unavailable(f"python_sandbox: cannot bind-mount the standard library ({_fail('mount').strerror})")
    flags = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV
    if _libc.mount(None, where, None, flags, None) != 0:
        raise Unavailable(f"python_sandbox: cannot make the standard library read-only ({_fail('mount').strerror})")


def bind_over(source: str, target: str) -> None:
    """Show ``source``, with the mounts below it, at ``target`` (in the child's own mount namespace)."""
    if _libc.mount(os.fsencode(source), os.fsencode(target), None, MS_BIND | MS_REC, None) != 0:
        raise Unavailable(f"python_sandbox: cannot bind-mount the run's folder ({_fail('mount').strerror})")


def drop_to_nobody() -> None:
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)  # from root: all capabilities go with it
    if os.getuid() != NOBODY or os.geteuid() != NOBODY:
        raise Unavailable("python_sandbox: could not change to uid 65534")


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def drop_capabilities() -> None:
    """Give up the capabilities a new user namespace grants its first process."""
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3: two 32-bit words per set
    data = (_CapData * 2)()
    if _libc.capset(ctypes.byref(header), data) != 0:
        raise _fail("capset")


# -- Landlock ---------------------------------------------------------------------------------


def landlock_abi() -> int:
    version = _libc.syscall(
        ctypes.c_long(SYS_LANDLOCK_CREATE_RULESET),
        None,
        ctypes.c_size_t(0),
        ctypes.c_uint32(LANDLOCK_CREATE_RULESET_VERSION),
    )
    return max(int(version), 0)


def _fs_rights(abi: int) -> int:
    rights = (1 << 13) - 1  # ABI 1: execute .. make_sym
    if abi >= 2:
        rights |= FS_REFER
    if abi >= 3:
        rights |= FS_TRUNCATE
    if abi >= 5:
        rights |= FS_IOCTL_DEV
    return rights


def _add_rule(ruleset: int, path: str, allowed: int, is_dir: bool) -> None:
    fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    try:
        attr = struct.pack("=Qi", allowed if is_dir else allowed & FS_FILE_ONLY, fd)  # the struct is packed
        if _libc.syscall(_ADD_RULE, ctypes.c_int(ruleset), _PATH_BENEATH, attr, _NO_FLAGS) != 0:
            raise _fail(f"landlock_add_rule {path}")
    finally:
        os.close(fd)


def landlock_ruleset(abi: int, stdlib_dirs: list[str], work: str) -> tuple[int, list[str]]:
    """A ruleset: read the standard library, read and write ``work``, nothing else; fd and layer names.

    Built before the uid changes, because the new uid may not be able to open the
    standard library's folders (the kernel keeps what the rule's fd names).
    """
    if abi < LANDLOCK_MIN_ABI:
        found = f"ABI {abi}" if abi else "not enabled"
        raise Unavailable(
            f"python_sandbox needs Landlock ABI >= {LANDLOCK_MIN_ABI} (Linux >= 6.2 with landlock in the lsm= "
            f"boot parameter); this kernel: {found}"
        )
    fs = _fs_rights(abi)
    net = NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 else 0
    scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if abi >= 6 else 0
    size = 8 if abi < 4 else 16 if abi < 6 else 24
    attr = struct.pack("=QQQ", fs, net, scoped)[:size]
    ruleset = _libc.syscall(
        ctypes.c_long(SYS_LANDLOCK_CREATE_RULESET), ctypes.c_char_p(attr), ctypes.c_size_t(size), ctypes.c_uint32(0)
    )
    if ruleset < 0:
        raise Unavailable(f"python_sandbox: Landlock refused a ruleset ({_fail('landlock').strerror})")
    read = FS_READ_FILE | FS_READ_DIR
    for folder in stdlib_dirs:
        # The folder itself only lists (the import system needs that); each entry but
        # site-packages is readable. Landlock rules cover whole subtrees, so this is the
        # only way to leave one subfolder out.
        _add_rule(ruleset, folder, FS_READ_DIR, True)
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name not in NOT_STDLIB:
                    _add_rule(ruleset, entry.path, read, entry.is_dir())
    _add_rule(ruleset, work, fs & ~FS_EXECUTE, True)
    layers = [f"landlock_abi{abi}"] + (["landlock_net"] if net else []) + (["landlock_scope"] if scoped else [])
    return int(ruleset), layers


def landlock_restrict(ruleset: int) -> None:
    ret = _libc.syscall(ctypes.c_long(SYS_LANDLOCK_RESTRICT_SELF), ctypes.c_int(ruleset), ctypes.c_uint32(0))
    if ret != 0:
        raise Unavailable(f"python_sandbox: Landlock refused to restrict the child ({_fail('landlock').strerror})")
    os.close(ruleset)


def mount_refused() -> bool:
    """Whether mount(2) is refused in a fresh mount namespace of this process's own; call it in a throwaway child.

    The namespace (and, when not root, a user namespace around it) gives full capabilities
    over it, so an EPERM there comes from above: a Landlock domain that limits files, which
    refuses mount in any namespace. A missing namespace is not this answer: the sandbox's
    own start then names it.
    """
    flags = CLONE_NEWNS | (0 if os.geteuid() == 0 else CLONE_NEWUSER)
    if _libc.unshare(flags) != 0:
        return False
    if _libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None) == 0:
        return False
    return ctypes.get_errno() == errno.EPERM
