from integration_core.cli import main

main()
