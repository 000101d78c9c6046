"""hello.py: the smallest STARK program in Python.

python examples/python/hello.py
"""

import stark


class Greeter:
    """A Python actor: one instance, one message at a time."""

    def __init__(self) -> None:
        self.greeted = 0

    def receive(self, msg: stark.Message) -> str:
        self.greeted += 1
        return f"hello, {msg.value()} (#{self.greeted})"


def main() -> None:
    with stark.Runtime() as rt:
        greeter = rt.spawn(Greeter, name="greeter")
        print(greeter.ask("world"))
        print(rt.lookup("greeter").ask("STARK"))

        # A function is an actor too; bytes travel as they are.
        upper = rt.spawn(lambda msg: msg.data.upper())
        print(upper.ask(b"bytes stay bytes", raw=True))

        print(f"{rt.metrics().processed} messages processed")


if __name__ == "__main__":
    main()
