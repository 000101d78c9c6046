"""numpy_pipeline.py: Python actors passing numpy arrays in pooled buffers, without copies.

source -> normalize (in place) -> stats -> sink: every stage sees the very
same memory (the printed data address never changes).

    python examples/python/numpy_pipeline.py
"""

import threading
import time

import numpy as np

import stark

FRAMES = 20
SHAPE = (512, 512)


def main() -> None:
    done = threading.Event()
    results: list[tuple[int, float, float, int]] = []

    with stark.Runtime() as rt:

        class Sink:
            def receive(self, msg: stark.Message) -> None:
                frame_id = msg.tag
                a = msg.array()  # the same memory the source filled
                results.append((frame_id, float(a.mean()), float(a.std()), a.__array_interface__["data"][0]))
                if len(results) == FRAMES:
                    done.set()

        sink = rt.spawn(Sink)

        def normalize(msg: stark.Message) -> None:
            a = msg.array()
            a -= a.mean()  # in place: no copy
            a /= a.std() + 1e-9
            sink.send(a, tag=msg.tag)  # moves the buffer on

        norm = rt.spawn(normalize)

        rng = np.random.default_rng(1)
        t0 = time.perf_counter()
        addrs = []
        for i in range(FRAMES):
            frame = rt.array(SHAPE, np.float32)  # pooled memory
            frame[:] = rng.normal(5.0, 2.0, SHAPE)
            addrs.append(frame.__array_interface__["data"][0])
            norm.send(frame, tag=i)  # zero copy: the array moves into the message
        assert done.wait(10), "the pipeline did not finish"
        dt = time.perf_counter() - t0

        same = all(addr == addrs[fid] for fid, _, _, addr in results)
        mb = FRAMES * np.prod(SHAPE) * 4 / 2**20
        print(f"{FRAMES} frames of {SHAPE} float32 ({mb:.0f} MiB) in {dt * 1e3:.1f} ms")
        print(f"every stage saw the sender's memory: {same}")
        fid, mean, std, addr = results[0]
        print(f"frame {fid}: mean {mean:+.3f} std {std:.3f} at {addr:#x}")
        del frame  # the sender's (moved) object kept the last frame's memory alive
        print(f"pool bytes live now: {rt.metrics().pool_live_bytes}")


if __name__ == "__main__":
    main()
