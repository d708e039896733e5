from spokenemo.apps.cli import main

main()
