from gymkit.cli import main

main()
