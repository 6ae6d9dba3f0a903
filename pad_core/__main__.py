from pad_core.cli import main

main()
