//! The shortest STARK program: an echo actor answering an ask.
use std::time::Duration;

use stark::{Ctx, Msg, Runtime};

fn main() -> Result<(), stark::Error> {
    let rt = Runtime::new()?;
    let echo =
        rt.spawn(|ctx: &Ctx, msg: &Msg| ctx.reply(msg.tag(), msg.data()).map_err(|e| e.status()))?;
    let reply = echo.ask(&rt, 1, b"hello, stark", Duration::from_secs(1))?;
    println!(
        "echo replied tag {}: {}",
        reply.tag(),
        String::from_utf8_lossy(reply.data())
    );
    drop(reply);
    rt.shutdown(Duration::from_secs(1))?;
    Ok(())
}
