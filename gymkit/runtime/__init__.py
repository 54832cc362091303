"""What runs inside a resource server's process: the FastAPI app and its routes (`server`),
the wire models (`wire`), sessions, the server's config (`config`) and how a server is
started and served (`serving`, `nemo_entry`). It imports only gymkit's foundations
(`errors`, `inputs`, `project`, `childproc`, `confine`), never the step tools."""
