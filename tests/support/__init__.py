"""What the tests share that is not a test: rigs, stand-ins, the team factory, clocks."""
