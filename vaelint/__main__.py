from vaelint.cli import main

main()
