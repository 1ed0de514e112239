from torchlint.cli import console_main

console_main()
