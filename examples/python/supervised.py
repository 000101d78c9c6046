"""supervised.py: an actor that crashes and is restarted by its supervisor.

The exception's traceback is the failure's reason: the asker gets it in
stark.ActorFailed, and the dead letter keeps it.

    python examples/python/supervised.py
"""

import stark


class Account:
    """Holds a balance; a withdrawal that would go negative raises."""

    def __init__(self) -> None:
        self.balance = 100  # every (re)start begins here
        print(f"  [account] started with balance {self.balance}")

    def receive(self, msg: stark.Message) -> int:
        op, amount = msg.value()
        if op == "withdraw":
            if amount > self.balance:
                raise ValueError(f"insufficient funds: {self.balance} < {amount}")
            self.balance -= amount
        elif op == "deposit":
            self.balance += amount
        return self.balance


def main() -> None:
    with stark.Runtime() as rt:
        rt.supervise([stark.ChildSpec(Account, name="account")], strategy="one_for_one", max_restarts=3, period=5.0)
        account = rt.lookup("account")
        print("deposit 50 ->", account.ask(("deposit", 50)))
        print("withdraw 30 ->", account.ask(("withdraw", 30)))
        try:
            account.ask(("withdraw", 1000))
        except stark.ActorFailed as e:
            print("withdraw 1000 failed; the reason is the traceback:")
            print("  | " + "\n  | ".join(e.reason.rstrip().splitlines()))

        # The supervisor restarted the child with a fresh instance.
        account = rt.lookup("account")
        print("after the restart, deposit 1 ->", account.ask(("deposit", 1)))

        dl = [d for d in rt.dead_letters() if d.cause_name == "actor failed"][-1]
        print(f"dead letter: tag={dl.tag} cause={dl.cause_name!r}")
        print(f"  reason: {dl.reason!r}")
        m = rt.metrics()
        print(f"failures={m.failures} restarts={m.restarts}")


if __name__ == "__main__":
    main()
