mod common;
use common::T;
use stark::{ActorRef, Ctx, Msg, Runtime, SpawnOptions, Status};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn echo(ctx: &Ctx, msg: &Msg) -> Result<(), Status> {
    ctx.reply(msg.tag(), msg.data()).map_err(|e| e.status())
}

#[test]
fn abi_version_matches() {
    assert_eq!(stark::abi_version().0, stark::sys::STARK_ABI_VERSION_MAJOR);
    stark::check_abi().unwrap();
}

#[test]
fn echo_ask_reply() {
    let rt = Runtime::new().unwrap();
    let a = rt.spawn(echo).unwrap();
    let r = a.ask(&rt, 7, b"hello", T).unwrap();
    assert_eq!(r.tag(), 7);
    assert_eq!(r.data(), b"hello");
    let r = a.ask(&rt, 1, b"", T).unwrap();
    assert!(r.data().is_empty());
}

#[test]
fn msg_fields_and_ctx() {
    let rt = Runtime::new().unwrap();
    let a = rt
        .spawn(|ctx: &Ctx, msg: &Msg| {
            let me = ctx.self_ref().map_err(|e| e.status())?;
            let mut out = me.raw().to_le_bytes().to_vec();
            out.push(msg.is_ask() as u8);
            out.push(msg.sender().is_none() as u8);
            ctx.reply(0, &out).map_err(|e| e.status())
        })
        .unwrap();
    let r = a.ask(&rt, 1, b"x", T).unwrap();
    let d = r.data();
    assert_eq!(u64::from_le_bytes(d[..8].try_into().unwrap()), a.raw());
    assert_eq!(&d[8..], &[1, 1]);
}

#[test]
fn stateful_counter() {
    let rt = Runtime::new().unwrap();
    let mut total: u64 = 0;
    let c = rt
        .spawn(move |ctx: &Ctx, msg: &Msg| {
            match msg.tag() {
                1 => {
                    total += u64::from_le_bytes(msg.data().try_into().map_err(|_| Status::Invalid)?)
                }
                2 => ctx.reply(2, &total.to_le_bytes()).map_err(|e| e.status())?,
                _ => return Err(Status::Invalid),
            }
            Ok(())
        })
        .unwrap();
    for i in 1..=10u64 {
        c.send(&rt, 1, &i.to_le_bytes()).unwrap();
    }
    let r = c.ask(&rt, 2, b"", T).unwrap();
    assert_eq!(u64::from_le_bytes(r.data().try_into().unwrap()), 55);
}

#[test]
fn error_status_fails_and_restarts() {
    let rt = Runtime::new().unwrap();
    let a = rt
        .spawn(|ctx: &Ctx, msg: &Msg| {
            if msg.data() == b"bad" {
                ctx.fail("refusing bad input").ok();
                return Err(Status::Invalid);
            }
            ctx.reply(0, b"ok").map_err(|e| e.status())
        })
        .unwrap();
    let e = a.ask(&rt, 1, b"bad", T).unwrap_err();
    assert_eq!(e.status(), Status::Failed, "{e}");
    assert!(e.message().contains("refusing bad input"), "{e}");
    // Restarted with the same ref; it answers again.
    let r = a.ask(&rt, 1, b"good", T).unwrap();
    assert_eq!(r.data(), b"ok");
    assert!(rt.metrics().unwrap().restarts >= 1);
}

#[test]
fn panic_is_caught() {
    let rt = Runtime::new().unwrap();
    let a = rt
        .spawn(|ctx: &Ctx, msg: &Msg| {
            if msg.tag() == 9 {
                panic!("kaboom {}", 42);
            }
            ctx.reply(0, b"alive").map_err(|e| e.status())
        })
        .unwrap();
    let e = a.ask(&rt, 9, b"", T).unwrap_err();
    assert_eq!(e.status(), Status::Failed);
    assert!(e.message().contains("kaboom 42"), "{e}");
    assert_eq!(a.ask(&rt, 1, b"", T).unwrap().data(), b"alive");
}

#[test]
fn stale_and_forged_refs() {
    let rt = Runtime::new().unwrap();
    let a = rt.spawn(echo).unwrap();
    a.stop(&rt).unwrap();
    let deadline = Instant::now() + T;
    while a.is_alive(&rt) {
        assert!(Instant::now() < deadline, "actor did not stop");
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(a.send(&rt, 1, b"x").unwrap_err().status(), Status::NotFound);
    assert_eq!(
        a.ask(&rt, 1, b"x", T).unwrap_err().status(),
        Status::NotFound
    );
    let forged = ActorRef::from_raw(0x0bad_cafe_dead_beef);
    let e = forged.send(&rt, 1, b"x").unwrap_err();
    assert_eq!(e.status(), Status::NotFound);
    assert!(!e.message().is_empty());
    assert_eq!(forged.kill(&rt).unwrap_err().status(), Status::NotFound);
}

#[test]
fn names() {
    let rt = Runtime::new().unwrap();
    let a = rt.spawn(echo).unwrap();
    rt.register("echo", a).unwrap();
    assert_eq!(rt.lookup("echo").unwrap(), a);
    assert_eq!(rt.lookup("nobody").unwrap_err().status(), Status::NotFound);
    let b = rt
        .spawn_with(
            &SpawnOptions {
                name: Some("second".into()),
                ..Default::default()
            },
            echo,
        )
        .unwrap();
    assert_eq!(rt.lookup("second").unwrap(), b);
    // A taken name: STARK_INVALID, and the closure was not taken (freed by us once).
    let tracker = Arc::new(());
    let t2 = tracker.clone();
    let e = rt
        .spawn_with(
            &SpawnOptions {
                name: Some("second".into()),
                ..Default::default()
            },
            move |_: &Ctx, _: &Msg| {
                let _ = &t2;
                Ok(())
            },
        )
        .unwrap_err();
    assert_eq!(e.status(), Status::Invalid);
    assert_eq!(Arc::strong_count(&tracker), 1);
}

#[test]
fn drop_runtime_frees_closures() {
    let tracker = Arc::new(AtomicUsize::new(0));
    let rt = Runtime::new().unwrap();
    let mut refs = vec![];
    for _ in 0..3 {
        let t = tracker.clone();
        refs.push(
            rt.spawn(move |ctx: &Ctx, _: &Msg| {
                t.fetch_add(1, Ordering::Relaxed);
                ctx.reply(0, b"").map_err(|e| e.status())
            })
            .unwrap(),
        );
    }
    for r in &refs {
        r.ask(&rt, 0, b"", T).unwrap();
    }
    assert_eq!(tracker.load(Ordering::Relaxed), 3);
    assert_eq!(Arc::strong_count(&tracker), 4);
    drop(rt);
    assert_eq!(Arc::strong_count(&tracker), 1);
}

#[test]
fn shutdown_then_stopped() {
    let rt = Runtime::new().unwrap();
    let a = rt.spawn(echo).unwrap();
    rt.shutdown(Duration::from_secs(2)).unwrap();
    assert_eq!(a.send(&rt, 1, b"x").unwrap_err().status(), Status::Stopped);
}

#[test]
fn ctx_send_and_post() {
    let rt = Runtime::new().unwrap();
    // sink counts what reaches it and answers the count on tag 2.
    let mut n = 0u32;
    let sink = rt
        .spawn(move |ctx: &Ctx, msg: &Msg| {
            if msg.tag() == 2 {
                return ctx.reply(2, &n.to_le_bytes()).map_err(|e| e.status());
            }
            n += 1;
            Ok(())
        })
        .unwrap();
    let fwd = rt
        .spawn(move |ctx: &Ctx, msg: &Msg| {
            ctx.send(sink, 1, msg.data()).map_err(|e| e.status())?;
            ctx.post(sink, 1, msg.data()).map_err(|e| e.status())?;
            ctx.reply(0, b"").map_err(|e| e.status())
        })
        .unwrap();
    fwd.ask(&rt, 1, b"a", T).unwrap();
    fwd.ask(&rt, 1, b"b", T).unwrap();
    let r = sink.ask(&rt, 2, b"", T).unwrap();
    assert_eq!(u32::from_le_bytes(r.data().try_into().unwrap()), 4);
}

#[test]
fn four_threads_send_concurrently() {
    let rt = Runtime::new().unwrap();
    let mut total = 0u64;
    let opts = SpawnOptions {
        overflow: stark::sys::STARK_OVERFLOW_WAIT,
        ..Default::default()
    };
    let c = rt
        .spawn_with(&opts, move |ctx: &Ctx, msg: &Msg| {
            if msg.tag() == 2 {
                return ctx.reply(2, &total.to_le_bytes()).map_err(|e| e.status());
            }
            total += 1;
            Ok(())
        })
        .unwrap();
    const PER: usize = 2500;
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..PER {
                    loop {
                        match c.send(&rt, 1, b"+") {
                            Ok(()) => break,
                            Err(e) if e.status() == Status::Full => std::thread::yield_now(),
                            Err(e) => panic!("{e}"),
                        }
                    }
                }
            });
        }
    });
    let r = c.ask(&rt, 2, b"", T).unwrap();
    assert_eq!(
        u64::from_le_bytes(r.data().try_into().unwrap()),
        4 * PER as u64
    );
}

#[test]
fn try_send_and_timeout() {
    let rt = Runtime::new().unwrap();
    let silent = rt.spawn(|_: &Ctx, _: &Msg| Ok(())).unwrap();
    silent.try_send(&rt, 1, b"x").unwrap();
    let e = silent
        .ask(&rt, 1, b"", Duration::from_millis(50))
        .unwrap_err();
    assert_eq!(e.status(), Status::Timeout);
    assert!(e.to_string().contains("stark"));
}
