mod common;
use common::T;
use stark::{Ctx, Msg, Runtime, Status};

#[test]
fn buffer_zero_copy() {
    let rt = Runtime::new().unwrap();
    // Replies with the address it sees and the first bytes.
    let a = rt
        .spawn(|ctx: &Ctx, msg: &Msg| {
            let mut out = (msg.data().as_ptr() as usize as u64).to_le_bytes().to_vec();
            out.push(msg.buffer().is_some() as u8);
            out.extend_from_slice(&msg.data()[..4]);
            // The sender is outside the runtime: answer through a named collector.
            let collector = ctx.runtime().unwrap().lookup("collector").unwrap();
            ctx.send(collector, 1, &out).map_err(|e| e.status())
        })
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    let tx = std::sync::Mutex::new(tx);
    let col = rt
        .spawn(move |_: &Ctx, msg: &Msg| {
            if msg.tag() == 1 {
                tx.lock().unwrap().send(msg.data().to_vec()).ok();
            }
            Ok(())
        })
        .unwrap();
    rt.register("collector", col).unwrap();

    let mut buf = rt.buffer(4096).unwrap();
    assert!(buf.len() >= 4096);
    buf.as_mut_slice()[..4].copy_from_slice(b"STRK");
    let addr = buf.as_ptr() as usize as u64;
    a.send_buffer(&rt, 1, buf).unwrap();
    let got = rx.recv_timeout(T).unwrap();
    assert_eq!(
        u64::from_le_bytes(got[..8].try_into().unwrap()),
        addr,
        "handler saw another address"
    );
    assert_eq!(got[8], 1);
    assert_eq!(&got[9..13], b"STRK");
}

#[test]
fn buffer_release_and_set_len() {
    let rt = Runtime::new().unwrap();
    let mut b = rt.buffer(100).unwrap();
    b.set_len(10).unwrap();
    assert_eq!(b.len(), 10);
    assert_eq!(b.set_len(1 << 20).unwrap_err().status(), Status::Invalid);
    let raw = b.raw();
    drop(b);
    // The handle is stale after the last release.
    let st = unsafe { stark::sys::stark_buffer_release(rt.raw(), raw) };
    assert_eq!(Status::from_raw(st), Status::NotFound);
}
