from phasefarm.cli import main

main()
