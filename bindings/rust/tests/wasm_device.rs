mod common;
use common::{mp_decode_int, mp_small, wasm_dir, T};
use stark::{DeviceOp, Runtime, SpawnOptions, WasmOptions};

#[test]
fn wasm_counter() {
    let path = wasm_dir().join("counter-c.wasm");
    assert!(
        path.exists(),
        "{} missing: run `make guests`",
        path.display()
    );
    let rt = Runtime::new().unwrap();
    let m = rt.load_wasm_file(&path, false).unwrap();
    let wopts = WasmOptions {
        memory_pages: 16,
        init: mp_small(40),
        ..Default::default()
    };
    let a = rt.spawn_wasm(&m, &wopts, &SpawnOptions::default()).unwrap();
    let mut expect = 40;
    for n in [1u8, 2, 3, 100] {
        expect += n as i64;
        let r = a.ask(&rt, 1, &mp_small(n), T).unwrap();
        assert_eq!(r.tag(), 1);
        assert_eq!(mp_decode_int(r.data()), expect);
    }
    let r = a.ask(&rt, 2, b"", T).unwrap();
    assert_eq!(mp_decode_int(r.data()), expect);
    // An unknown tag fails the message.
    assert_eq!(
        a.ask(&rt, 77, b"", T).unwrap_err().status(),
        stark::Status::Failed
    );
}

#[test]
fn wasm_rejects_garbage() {
    let rt = Runtime::new().unwrap();
    let e = rt
        .load_wasm(b"not wasm", Some("garbage"), false)
        .unwrap_err();
    assert_eq!(e.status(), stark::Status::Invalid);
}

fn cpu_runtime() -> Runtime {
    let rt = Runtime::with_config(stark::Config {
        device: Some("cpu".into()),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(rt.device_backend_name().unwrap(), "cpu");
    rt
}

#[test]
fn device_add() {
    let rt = cpu_runtime();
    const N: usize = 1000;
    let a: Vec<f32> = (0..N).map(|i| i as f32 * 0.5).collect();
    let b: Vec<f32> = (0..N).map(|i| 3.0 - i as f32).collect();
    let bytes = (N * 4) as u64;
    let (da, db, dc) = (
        rt.device_alloc(bytes).unwrap(),
        rt.device_alloc(bytes).unwrap(),
        rt.device_alloc(bytes).unwrap(),
    );
    da.write_f32(0, &a).unwrap();
    db.write_f32(0, &b).unwrap();
    rt.device_run(&DeviceOp::add(&da, &db, &dc, N as u64))
        .unwrap();
    rt.device_sync(0).unwrap();
    let mut c = vec![0f32; N];
    dc.read_f32(0, &mut c).unwrap();
    for i in 0..N {
        assert_eq!(c[i], a[i] + b[i], "index {i}");
    }
}

#[test]
fn device_matmul() {
    let rt = cpu_runtime();
    let (m, n, k) = (3usize, 4usize, 5usize);
    let a: Vec<f32> = (0..m * k).map(|i| (i % 7) as f32 - 2.0).collect();
    let b: Vec<f32> = (0..k * n).map(|i| (i % 5) as f32 * 0.25).collect();
    let mut want = vec![0f32; m * n];
    for i in 0..m {
        for j in 0..n {
            want[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
        }
    }
    let da = rt.device_alloc((m * k * 4) as u64).unwrap();
    let db = rt.device_alloc((k * n * 4) as u64).unwrap();
    let dc = rt.device_alloc((m * n * 4) as u64).unwrap();
    da.write_f32(0, &a).unwrap();
    db.write_f32(0, &b).unwrap();
    rt.device_run(&DeviceOp::matmul(
        &da, &db, &dc, m as u64, n as u64, k as u64,
    ))
    .unwrap();
    let mut c = vec![0f32; m * n];
    dc.read_f32(0, &mut c).unwrap();
    for i in 0..m * n {
        assert!(
            (c[i] - want[i]).abs() < 1e-4,
            "index {i}: {} vs {}",
            c[i],
            want[i]
        );
    }
    // Bytes round-trip through write/read too.
    let raw = rt.device_alloc(8).unwrap();
    raw.write(0, b"abcdefgh").unwrap();
    let mut back = [0u8; 8];
    raw.read(0, &mut back).unwrap();
    assert_eq!(&back, b"abcdefgh");
}
