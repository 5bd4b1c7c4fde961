from antrean.cli import main

main()
