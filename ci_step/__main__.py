from ci_step.cli import main

main()
