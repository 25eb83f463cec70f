import Foundation
import NIOCore
import NIOWebSocket
import Synchronization

/// One load-generator connection, driven entirely on its event loop: no task per message, so
/// the generator's own scheduling adds as little as possible to the latency it measures.
final class BenchWebSocketHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    let index: Int
    let campaign: Int
    /// The server (of `--url`s) this client is connected to; carried in each payload so the
    /// receivers can tell same-node from cross-node deliveries.
    let node: Int
    let token: String
    let interval: TimeAmount
    let padding: String
    let runID: String
    let shared: PartySyncBenchmark.Shared

    private var tally = PartySyncBenchmark.ClientTally()
    private var welcomed = false
    private var control: RepeatedTask?
    private var publisher: RepeatedTask?
    private var closing = false

    init(index: Int, campaign: Int, node: Int = 0, token: String, interval: TimeAmount, padding: String, runID: String, shared: PartySyncBenchmark.Shared) {
        self.index = index
        self.campaign = campaign
        self.node = node
        self.token = token
        self.interval = interval
        self.padding = padding
        self.runID = runID
        self.shared = shared
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        // The upgrade finishes rearranging the pipeline after this handler is added: say hello
        // on the next turn of the event loop.
        context.eventLoop.execute {
            let (handler, context) = loopBound.value
            handler.send(#"{"t":"hello","v":1,"token":"\#(handler.token)"}"#, context: context)
        }
        control = context.eventLoop.scheduleRepeatedTask(initialDelay: .milliseconds(250), delay: .milliseconds(250)) { _ in
            let (handler, context) = loopBound.value
            handler.followPhase(context: context)
        }
    }

    private func followPhase(context: ChannelHandlerContext) {
        let phase = shared.phase.load(ordering: .relaxed)
        if phase == 1, publisher == nil, welcomed {
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            let phaseOffset = TimeAmount.nanoseconds(Int64.random(in: 0..<max(1, interval.nanoseconds)))
            publisher = context.eventLoop.scheduleRepeatedTask(initialDelay: phaseOffset, delay: interval) { _ in
                let (handler, context) = loopBound.value
                handler.publish(context: context)
            }
        } else if phase >= 2, let publisher {
            publisher.cancel()
            self.publisher = nil
        }
        if phase >= 3, !closing {
            closing = true
            control?.cancel()
            var data = context.channel.allocator.buffer(capacity: 2)
            data.write(webSocketErrorCode: .normalClosure)
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: .random(), data: data)), promise: nil)
            context.close(promise: nil)
        }
    }

    private func publish(context: ChannelHandlerContext) {
        guard shared.phase.load(ordering: .relaxed) == 1 else { return }
        tally.published += 1
        let sent = Int64(Date().timeIntervalSince1970 * 1_000_000)
        send(#"{"t":"publish","cmid":"\#(runID)-\#(index)-\#(tally.published)","type":"bench.tick","payload":{"n":\#(node),"p":"\#(padding)","s":\#(sent)}}"#, context: context)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text:
            handle(String(buffer: frame.unmaskedData), context: context)
        case .connectionClose:
            if !closing { tally.closedEarly = shared.phase.load(ordering: .relaxed) < 3 }
            context.close(promise: nil)
        default:
            break
        }
    }

    private func handle(_ text: String, context: ChannelHandlerContext) {
        if text.hasPrefix(#"{"t":"event""#) {
            let received = Int64(Date().timeIntervalSince1970 * 1_000_000)
            let offset = PartySyncBenchmark.integer(after: #""offset":"#, in: text) ?? -1
            if tally.lastOffset > 0 {
                if offset <= tally.lastOffset { tally.duplicates += 1 } else if offset != tally.lastOffset + 1 { tally.gaps += 1 }
            }
            tally.lastOffset = max(tally.lastOffset, offset)
            tally.received += 1
            shared.receivedTotal.add(1, ordering: .relaxed)
            if let sent = PartySyncBenchmark.integer(after: #""s":"#, in: text) {
                if PartySyncBenchmark.integer(after: #""n":"#, in: text) ?? Int64(node) == Int64(node) {
                    tally.latenciesMicroseconds.append(received - sent)
                } else {
                    tally.crossNodeLatenciesMicroseconds.append(received - sent)
                }
            }
        } else if text.hasPrefix(#"{"t":"ack""#) {
            tally.acks += 1
            shared.ackedTotal.add(1, ordering: .relaxed)
        } else if text.hasPrefix(#"{"t":"ping""#) {
            send(#"{"t":"pong"}"#, context: context)
        } else if text.hasPrefix(#"{"t":"error""#) {
            tally.errors += 1
        } else if text.hasPrefix(#"{"t":"welcome""#), !welcomed {
            welcomed = true
            shared.connected.add(1, ordering: .relaxed)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        control?.cancel()
        publisher?.cancel()
        if shared.phase.load(ordering: .relaxed) < 3 { tally.closedEarly = true }
        let final = tally
        let (index, campaign) = (self.index, self.campaign)
        shared.tallies.withLock { $0[index] = final }
        shared.acked.withLock { $0[campaign] += final.acks }
        shared.finished.add(1, ordering: .relaxed)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func send(_ text: String, context: ChannelHandlerContext) {
        let frame = WebSocketFrame(fin: true, opcode: .text, maskKey: .random(), data: context.channel.allocator.buffer(string: text))
        context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
    }
}
