from sgxra.cli.main import main

main()
