//! The pyamqp padding shim (spike pitfall P1): a byte-level wrapper between fe2o3 and the socket that
//! re-encodes every outgoing AMQP performative as a `list32` padded with `null` up to its full arity.
//!
//! AMQP 1.0 lets an encoder leave out trailing null or default fields, and serde_amqp does. Python's pyamqp
//! indexes the raw field list (`frame[4]` of Open, `frame[13]` of Attach, the Transfer payload at
//! `frame[11]`, ...) and fails with "list index out of range" on the short lists. Azure always sends full
//! lists, so padding restores what pyamqp was written against.
//!
//! Invariants: incoming bytes are never touched; SASL frames, protocol headers, heartbeats and everything
//! after the performative list (the Transfer payload) are copied byte for byte; anything the shim does not
//! understand is passed through unchanged, and once framing is lost everything after it is. Frames are
//! rewritten as a stream: only a frame's header and the start of its performative (at most ~1 KiB) are ever
//! held back, so large transfers do not have to be buffered whole.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Output bytes allowed to wait for the socket before `poll_write` pushes back.
const MAX_BACKLOG: usize = 1 << 20;

const NULL: u8 = 0x40;
const FRAME_TYPE_AMQP: u8 = 0x00;
const FRAME_HEADER_LEN: usize = 8;
/// Enough bytes to decide on any unit: the largest frame header (data offset 255 × 4) plus a ulong
/// descriptor and a list32 header.
const HEAD_WINDOW: usize = 255 * 4 + 1 + 9 + 9;

/// Number of fields of each performative (descriptor codes 0x10..=0x18, AMQP 1.0 part 2.7).
fn arity(code: u64) -> Option<u32> {
    Some(match code {
        0x10 => 10, // open
        0x11 => 8,  // begin
        0x12 => 14, // attach
        0x13 => 11, // flow
        0x14 => 11, // transfer
        0x15 => 6,  // disposition
        0x16 => 3,  // detach
        0x17 => 1,  // end
        0x18 => 1,  // close
        _ => return None,
    })
}

/// Wraps a stream so that what is written to it reaches the peer with padded performatives; reads pass
/// through untouched.
pub(crate) struct Padded<S> {
    inner: S,
    rewriter: Rewriter,
    /// Rewritten bytes for the socket; `out[sent..]` is still to be written.
    out: Vec<u8>,
    sent: usize,
    /// A write error met while draining opportunistically, after the caller's bytes were already accepted.
    error: Option<io::Error>,
}

impl<S> Padded<S> {
    pub(crate) fn new(inner: S) -> Self {
        Self { inner, rewriter: Rewriter::default(), out: Vec::new(), sent: 0, error: None }
    }

    fn backlog(&self) -> usize {
        self.out.len() - self.sent
    }
}

impl<S: AsyncWrite + Unpin> Padded<S> {
    /// Writes `out` to the socket until it is empty or the socket is not ready.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(error) = self.error.take() {
            return Poll::Ready(Err(error));
        }
        while self.sent < self.out.len() {
            match Pin::new(&mut self.inner).poll_write(cx, &self.out[self.sent..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => self.sent += n,
                Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                Poll::Pending => {
                    // Compact now and then so a socket that is always a little behind cannot make `out` grow.
                    if self.sent >= self.out.len() / 2 {
                        self.out.drain(..self.sent);
                        self.sent = 0;
                    }
                    return Poll::Pending;
                }
            }
        }
        self.out.clear();
        self.sent = 0;
        Poll::Ready(Ok(()))
    }
}

// fe2o3's `ConnectionAcceptor::accept` wants `Debug`; the buffers are left out.
impl<S: fmt::Debug> fmt::Debug for Padded<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Padded")
            .field("inner", &self.inner)
            .field("backlog", &self.backlog())
            .finish_non_exhaustive()
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Padded<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Padded<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.backlog() > MAX_BACKLOG || this.error.is_some() {
            match this.poll_drain(cx) {
                Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                Poll::Pending if this.backlog() > MAX_BACKLOG => return Poll::Pending,
                _ => {}
            }
        }
        this.rewriter.feed(buf, &mut this.out);
        // Start sending right away, so a writer that never flushes still makes progress. The bytes are
        // accepted either way; an error is kept for the next call.
        if let Poll::Ready(Err(error)) = this.poll_drain(cx) {
            this.error = Some(error);
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        // A unit cut short by the end of the stream is sent as it is rather than lost.
        this.rewriter.finish(&mut this.out);
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

/// The stream rewriter, free of I/O: bytes go in through `feed` in any chunking, rewritten bytes come out.
#[derive(Default)]
struct Rewriter {
    /// Start of a unit whose header is not complete yet.
    held: Vec<u8>,
    /// Bytes of the current unit still to copy unchanged.
    copy: usize,
    /// After `copy` runs out: the nulls to append to the list, then the bytes left in the frame.
    tail: Option<(u32, usize)>,
    /// Framing was lost (a frame size below 8, a bad data offset): pass everything from here on.
    lost: bool,
}

/// What to do with the bytes at the start of a unit.
#[derive(Debug, PartialEq, Eq)]
enum Plan {
    NeedMore,
    /// A protocol header or a frame left as it is: copy this many bytes.
    Pass(usize),
    /// Drop the first `consumed` bytes and emit `head` instead (the frame header with the new size, the
    /// descriptor and a list32 header); then copy `elements` bytes, append `nulls` nulls and copy `rest`.
    Pad {
        consumed: usize,
        head: Vec<u8>,
        elements: usize,
        nulls: u32,
        rest: usize,
    },
    Lost,
}

impl Rewriter {
    fn feed(&mut self, mut data: &[u8], out: &mut Vec<u8>) {
        while !data.is_empty() {
            if self.lost {
                out.extend_from_slice(data);
                return;
            }
            if self.copy > 0 {
                let n = self.copy.min(data.len());
                out.extend_from_slice(&data[..n]);
                data = &data[n..];
                self.copy -= n;
                self.end_copy(out);
                continue;
            }
            // At a unit boundary: collect the start of the unit in `held`. No more than `HEAD_WINDOW` bytes
            // are taken, so a large write full of small frames is not copied over and over.
            let start = self.held.len();
            let take = data.len().min(HEAD_WINDOW.saturating_sub(start));
            self.held.extend_from_slice(&data[..take]);
            match plan(&self.held) {
                Plan::NeedMore if take == data.len() => return,
                // Cannot happen (the window holds any header `plan` reads); never drop bytes if it does.
                Plan::NeedMore | Plan::Lost => {
                    self.lost = true;
                    out.append(&mut self.held);
                    data = &data[take..];
                    continue;
                }
                Plan::Pass(len) => {
                    let taken = len.min(self.held.len());
                    out.extend_from_slice(&self.held[..taken]);
                    self.copy = len - taken;
                    data = &data[taken - start..];
                }
                Plan::Pad { consumed, head, elements, nulls, rest } => {
                    out.extend_from_slice(&head);
                    self.copy = elements;
                    self.tail = Some((nulls, rest));
                    data = &data[consumed - start..];
                    self.end_copy(out);
                }
            }
            self.held.clear();
        }
    }

    /// Moves on to the tail once the copy ran out (possibly at once, for an empty list).
    fn end_copy(&mut self, out: &mut Vec<u8>) {
        if self.copy == 0
            && let Some((nulls, rest)) = self.tail.take()
        {
            out.resize(out.len() + nulls as usize, NULL);
            self.copy = rest;
        }
    }

    /// End of stream: whatever is held goes out unchanged.
    fn finish(&mut self, out: &mut Vec<u8>) {
        out.append(&mut self.held);
    }
}

/// Why a read inside a frame stopped.
enum Stop {
    /// The bytes are not here yet.
    NeedMore,
    /// The read ran past the frame or met something that is not a performative: leave the frame alone.
    Leave,
}

/// Decides what to do with the unit starting at `buf[0]`.
fn plan(buf: &[u8]) -> Plan {
    if buf.len() < 4 {
        return Plan::NeedMore;
    }
    // A frame cannot start with "AMQP": as a size that would be over 1 GiB.
    if &buf[..4] == b"AMQP" {
        return Plan::Pass(8);
    }
    if buf.len() < FRAME_HEADER_LEN {
        return Plan::NeedMore;
    }
    let size = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
    let doff = buf[4] as usize * 4;
    if size < FRAME_HEADER_LEN || doff < FRAME_HEADER_LEN || doff > size {
        return Plan::Lost;
    }
    // SASL frames and heartbeats (no body) go through as they are.
    if buf[5] != FRAME_TYPE_AMQP || size == doff {
        return Plan::Pass(size);
    }
    match plan_performative(buf, size, doff) {
        Ok(plan) => plan,
        Err(Stop::NeedMore) => Plan::NeedMore,
        Err(Stop::Leave) => Plan::Pass(size),
    }
}

fn plan_performative(buf: &[u8], size: usize, body: usize) -> Result<Plan, Stop> {
    let byte = |i: usize| -> Result<u8, Stop> {
        if i >= size { Err(Stop::Leave) } else { buf.get(i).copied().ok_or(Stop::NeedMore) }
    };
    let be = |at: usize, len: usize| -> Result<u64, Stop> {
        (at..at + len).try_fold(0u64, |acc, i| Ok(acc << 8 | u64::from(byte(i)?)))
    };

    if byte(body)? != 0x00 {
        return Err(Stop::Leave);
    }
    let (code, list_at) = match byte(body + 1)? {
        0x53 => (u64::from(byte(body + 2)?), body + 3),
        0x80 => (be(body + 2, 8)?, body + 10),
        _ => return Err(Stop::Leave),
    };
    let arity = arity(code).ok_or(Stop::Leave)?;
    // (header length, element bytes, element count) of the list as sent.
    let (header, elements, count) = match byte(list_at)? {
        0x45 => (1, 0, 0),
        0xc0 => {
            let list_size = byte(list_at + 1)? as usize;
            let count = u32::from(byte(list_at + 2)?);
            (3, list_size.checked_sub(1).ok_or(Stop::Leave)?, count)
        }
        0xd0 => {
            let list_size = be(list_at + 1, 4)? as usize;
            let count = be(list_at + 5, 4)? as u32;
            (9, list_size.checked_sub(4).ok_or(Stop::Leave)?, count)
        }
        _ => return Err(Stop::Leave),
    };
    let list_end = list_at + header + elements;
    if list_end > size || count >= arity {
        return Err(Stop::Leave);
    }
    let nulls = arity - count;
    let new_list_size = u32::try_from(4 + elements + nulls as usize).map_err(|_| Stop::Leave)?;
    let new_size = u32::try_from(size - header + 9 + nulls as usize).map_err(|_| Stop::Leave)?;

    let mut head = Vec::with_capacity(list_at + 9);
    head.extend_from_slice(&new_size.to_be_bytes());
    head.extend_from_slice(&buf[4..list_at]);
    head.push(0xd0);
    head.extend_from_slice(&new_list_size.to_be_bytes());
    head.extend_from_slice(&arity.to_be_bytes());
    Ok(Plan::Pad { consumed: list_at + header, head, elements, nulls, rest: size - list_end })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const SASL_HEADER: &[u8] = b"AMQP\x03\x01\x00\x00";
    const AMQP_HEADER: &[u8] = b"AMQP\x00\x01\x00\x00";

    fn frame(kind: u8, channel: u16, body: &[u8]) -> Vec<u8> {
        let mut f = ((8 + body.len()) as u32).to_be_bytes().to_vec();
        f.extend_from_slice(&[2, kind]);
        f.extend_from_slice(&channel.to_be_bytes());
        f.extend_from_slice(body);
        f
    }

    /// A performative with a smallulong descriptor and a list8 of `fields` (already encoded).
    fn list8(code: u8, count: u8, fields: &[u8]) -> Vec<u8> {
        let mut b = vec![0x00, 0x53, code, 0xc0, fields.len() as u8 + 1, count];
        b.extend_from_slice(fields);
        b
    }

    /// What the shim must produce for a performative `prefix` (descriptor) with the given elements.
    fn padded(prefix: &[u8], count: u32, fields: &[u8], arity: u32) -> Vec<u8> {
        let nulls = (arity - count) as usize;
        let mut b = prefix.to_vec();
        b.push(0xd0);
        b.extend_from_slice(&((4 + fields.len() + nulls) as u32).to_be_bytes());
        b.extend_from_slice(&arity.to_be_bytes());
        b.extend_from_slice(fields);
        b.extend(std::iter::repeat_n(NULL, nulls));
        b
    }

    fn rewrite_in_chunks(input: &[u8], chunk: usize) -> Vec<u8> {
        let mut rewriter = Rewriter::default();
        let mut out = Vec::new();
        for piece in input.chunks(chunk) {
            rewriter.feed(piece, &mut out);
        }
        rewriter.finish(&mut out);
        out
    }

    fn rewrite(input: &[u8]) -> Vec<u8> {
        rewrite_in_chunks(input, usize::MAX)
    }

    // Open with container-id "srv" (str8) and hostname null: list8 with two fields.
    const OPEN_FIELDS: &[u8] = &[0xa1, 3, b's', b'r', b'v', 0x40];

    #[test]
    fn list8_open_is_padded_to_ten_fields() {
        let out = rewrite(&frame(0, 0, &list8(0x10, 2, OPEN_FIELDS)));
        assert_eq!(out, frame(0, 0, &padded(&[0x00, 0x53, 0x10], 2, OPEN_FIELDS, 10)));
    }

    #[test]
    fn list0_close_and_end_get_one_null() {
        for code in [0x17, 0x18] {
            let out = rewrite(&frame(0, 3, &[0x00, 0x53, code, 0x45]));
            assert_eq!(out, frame(0, 3, &padded(&[0x00, 0x53, code], 0, &[], 1)));
        }
    }

    #[test]
    fn list32_and_ulong_descriptor_are_padded() {
        // Detach with handle 0 (uint0) and closed true, as a list32 under a ulong descriptor.
        let desc = [0x00, 0x80, 0, 0, 0, 0, 0, 0, 0, 0x16];
        let fields = [0x43, 0x41];
        let mut body = desc.to_vec();
        body.push(0xd0);
        body.extend_from_slice(&6u32.to_be_bytes());
        body.extend_from_slice(&2u32.to_be_bytes());
        body.extend_from_slice(&fields);
        let out = rewrite(&frame(0, 1, &body));
        assert_eq!(out, frame(0, 1, &padded(&desc, 2, &fields, 3)));
    }

    #[test]
    fn every_performative_reaches_its_arity() {
        for (code, arity) in [(0x10, 10), (0x11, 8), (0x12, 14), (0x13, 11), (0x14, 11), (0x15, 6)] {
            let out = rewrite(&frame(0, 0, &list8(code, 1, &[0x43])));
            assert_eq!(out, frame(0, 0, &padded(&[0x00, 0x53, code], 1, &[0x43], arity)), "code {code:#x}");
        }
    }

    #[test]
    fn full_lists_and_other_descriptors_pass_unchanged() {
        let full = frame(0, 0, &list8(0x17, 1, &[0x40]));
        assert_eq!(rewrite(&full), full);
        // A described type that is not a performative (0x70 = header section).
        let other = frame(0, 0, &list8(0x70, 1, &[0x40]));
        assert_eq!(rewrite(&other), other);
        // A list that claims more bytes than the frame holds.
        let broken = frame(0, 0, &[0x00, 0x53, 0x10, 0xc0, 0x20, 0x01, 0x40]);
        assert_eq!(rewrite(&broken), broken);
    }

    fn transfer(payload: &[u8]) -> (Vec<u8>, Vec<u8>) {
        // handle 0, delivery-id 7, delivery-tag 4 bytes, message-format 0.
        let fields = [0x43, 0x52, 7, 0xa0, 4, 1, 2, 3, 4, 0x43];
        let mut body = list8(0x14, 4, &fields);
        body.extend_from_slice(payload);
        let mut expected = padded(&[0x00, 0x53, 0x14], 4, &fields, 11);
        expected.extend_from_slice(payload);
        (frame(0, 5, &body), frame(0, 5, &expected))
    }

    fn payload(len: usize) -> Vec<u8> {
        // Includes bytes that look like frame and list headers.
        (0..len).map(|i| [0x00, 0x53, 0x14, 0xc0, b'A', 0x45, 0xd0, (i % 251) as u8][i % 8]).collect()
    }

    #[test]
    fn transfer_payload_is_preserved_byte_for_byte() {
        let (input, expected) = transfer(&payload(70_000));
        let out = rewrite(&input);
        assert_eq!(out, expected);
        assert_eq!(&out[out.len() - 70_000..], &payload(70_000)[..]);
    }

    #[test]
    fn frames_split_across_one_byte_writes() {
        let (t, t_expected) = transfer(&payload(300));
        let open = frame(0, 0, &list8(0x10, 2, OPEN_FIELDS));
        let input = [AMQP_HEADER, &open, &t, &frame(0, 0, &[0x00, 0x53, 0x18, 0x45])].concat();
        let expected = [
            AMQP_HEADER,
            &frame(0, 0, &padded(&[0x00, 0x53, 0x10], 2, OPEN_FIELDS, 10)),
            &t_expected,
            &frame(0, 0, &padded(&[0x00, 0x53, 0x18], 0, &[], 1)),
        ]
        .concat();
        for chunk in [1, 2, 3, 7, 13, 64] {
            assert_eq!(rewrite_in_chunks(&input, chunk), expected, "chunk {chunk}");
        }
    }

    #[test]
    fn headers_and_heartbeats_pass_unchanged() {
        let heartbeat = frame(0, 0, &[]);
        let input = [SASL_HEADER, AMQP_HEADER, &heartbeat, &heartbeat].concat();
        assert_eq!(rewrite_in_chunks(&input, 1), input);
        assert_eq!(rewrite(&input), input);
    }

    #[test]
    fn sasl_frames_are_untouched() {
        // sasl-mechanisms (0x40) with a short list, and sasl-outcome (0x44) code 0: type 1 frames.
        let mechanisms = frame(
            1,
            0,
            &[
                0x00, 0x53, 0x40, 0xc0, 0x0c, 0x01, 0xa3, 0x09, b'A', b'N', b'O', b'N', b'Y', b'M', b'O',
                b'U', b'S',
            ],
        );
        let outcome = frame(1, 0, &[0x00, 0x53, 0x44, 0xc0, 0x03, 0x01, 0x50, 0x00]);
        // A type-1 frame that would look like a performative if it were type 0.
        let lookalike = frame(1, 0, &[0x00, 0x53, 0x10, 0x45]);
        let input = [SASL_HEADER, &mechanisms, &outcome, &lookalike, AMQP_HEADER].concat();
        assert_eq!(rewrite_in_chunks(&input, 1), input);
    }

    #[test]
    fn extended_header_and_many_frames_in_one_write() {
        // Data offset 255: 1012 bytes of extended header before the performative, kept as they are.
        let ext = vec![0xee; 255 * 4 - 8];
        let with_ext = |body: &[u8]| {
            let mut f = ((255 * 4 + body.len()) as u32).to_be_bytes().to_vec();
            f.extend_from_slice(&[255, 0, 0, 1]);
            f.extend_from_slice(&ext);
            f.extend_from_slice(body);
            f
        };
        let desc = [0x00, 0x80, 0, 0, 0, 0, 0, 0, 0, 0x13];
        let mut flow = desc.to_vec();
        flow.extend_from_slice(&[0xd0, 0, 0, 0, 5, 0, 0, 0, 1, 0x43]);
        let one = with_ext(&flow);
        let one_expected = with_ext(&padded(&desc, 1, &[0x43], 11));
        let end = frame(0, 0, &[0x00, 0x53, 0x17, 0x45]);
        let end_expected = frame(0, 0, &padded(&[0x00, 0x53, 0x17], 0, &[], 1));
        let input = [one, end].concat().repeat(500);
        let expected = [one_expected, end_expected].concat().repeat(500);
        assert_eq!(rewrite(&input), expected);
        assert_eq!(rewrite_in_chunks(&input, 1000), expected);
    }

    #[test]
    fn lost_framing_passes_everything_through() {
        let input = [&[0, 0, 0, 4, 2, 0, 0, 0][..], &frame(0, 0, &[0x00, 0x53, 0x18, 0x45])].concat();
        assert_eq!(rewrite_in_chunks(&input, 3), input);
    }

    #[tokio::test]
    async fn end_to_end_over_duplex() {
        let (client, server) = tokio::io::duplex(4096);
        let mut shim = Padded::new(server);
        let (t, t_expected) = transfer(&payload(3 << 20));
        let begin = frame(0, 0, &list8(0x11, 3, &[0x40, 0x43, 0x43]));
        let input = [SASL_HEADER, &frame(1, 0, &[0x00, 0x53, 0x44, 0x45]), AMQP_HEADER, &begin, &t].concat();
        let expected = [
            SASL_HEADER,
            &frame(1, 0, &[0x00, 0x53, 0x44, 0x45]),
            AMQP_HEADER,
            &frame(0, 0, &padded(&[0x00, 0x53, 0x11], 3, &[0x40, 0x43, 0x43], 8)),
            &t_expected,
        ]
        .concat();

        let (mut client_read, mut client_write) = tokio::io::split(client);
        let reader = tokio::spawn(async move {
            let mut got = vec![0; expected.len()];
            client_read.read_exact(&mut got).await.map(|_| got == expected)
        });
        // Odd-sized writes, so frames straddle write calls.
        for piece in input.chunks(64 * 1024 + 7) {
            shim.write_all(piece).await.unwrap();
        }
        shim.flush().await.unwrap();
        assert!(reader.await.unwrap().unwrap(), "the client saw other bytes than expected");

        // Reads are passed through untouched.
        client_write.write_all(b"\x00\x00\x00\x0c\x02\x00\x00\x00\x00\x53\x17\x45").await.unwrap();
        let mut got = [0; 12];
        shim.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"\x00\x00\x00\x0c\x02\x00\x00\x00\x00\x53\x17\x45");
        shim.shutdown().await.unwrap();
    }

    #[test]
    fn writes_push_back_when_the_socket_is_behind() {
        // Nobody reads the other end, so the duplex fills up and the backlog grows to the limit.
        let (_client, server) = tokio::io::duplex(1024);
        let mut shim = Padded::new(server);
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let (t, _) = transfer(&payload(4 << 20));
        let mut accepted = 0;
        while accepted < t.len() {
            match Pin::new(&mut shim).poll_write(&mut cx, &t[accepted..(accepted + 4096).min(t.len())]) {
                Poll::Ready(Ok(n)) => accepted += n,
                Poll::Ready(Err(error)) => panic!("{error}"),
                Poll::Pending => break,
            }
        }
        assert!(accepted < t.len(), "everything was accepted");
        assert!(shim.backlog() > MAX_BACKLOG && shim.backlog() <= MAX_BACKLOG + 4096 + 64);
        assert!(Pin::new(&mut shim).poll_flush(&mut cx).is_pending());
    }

    #[test]
    fn meets_the_bounds_of_fe2o3_accept() {
        fn accept_bounds<Io: AsyncRead + AsyncWrite + fmt::Debug + Send + Unpin + 'static>() {}
        accept_bounds::<Padded<tokio::net::TcpStream>>();
    }

    #[test]
    fn plan_waits_for_the_list_header() {
        let open = frame(0, 0, &list8(0x10, 2, OPEN_FIELDS));
        for len in 0..14 {
            assert_eq!(plan(&open[..len]), Plan::NeedMore, "len {len}");
        }
        assert!(matches!(plan(&open[..14]), Plan::Pad { consumed: 14, elements: 6, nulls: 8, rest: 0, .. }));
    }
}
