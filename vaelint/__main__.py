from vaelint.launch import main

main()
