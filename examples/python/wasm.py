"""wasm.py: a WASM actor (counter-c.wasm, built by `make guests`) driven from Python.

python examples/python/wasm.py [build/wasm]
"""

import sys
from pathlib import Path

import stark


def main() -> None:
    wasm_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "build" / "wasm"
    path = wasm_dir / "counter-c.wasm"
    if not path.exists():
        sys.exit(f"{path} is missing: run `make guests` first")
    with stark.Runtime() as rt:
        module = rt.load_wasm(path)
        # Payloads are msgpack both ways: Python values in, Python values out.
        counter = rt.spawn_wasm(module, init=10, memory_pages=4, deadline=0.5)
        print("add 5  ->", counter.ask(5, tag=1))
        print("add 27 ->", counter.ask(27, tag=1))
        print("get    ->", counter.ask(None, tag=2))
        try:
            counter.ask("five", tag=1)
        except stark.ActorFailed as e:
            print("add 'five' failed:", e.reason)
        print("get after the restart ->", counter.ask(None, tag=2), "(back to its init value)")

        # A Python actor in front of the sandboxed one.
        def front(msg: stark.Message) -> str:
            total = counter.ask(msg.value(), tag=1)
            return f"the counter is at {total}"

        f = rt.spawn(front)
        print(f.ask(100))


if __name__ == "__main__":
    main()
