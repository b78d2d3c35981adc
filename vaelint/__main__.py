from vaelint.runtime.launch import main

main()
