from threads_api.cli import main

main()
