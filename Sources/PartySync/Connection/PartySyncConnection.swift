import Foundation
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOWebSocket
import ServiceKit
import ServiceLifecycle
import Synchronization

/// One WebSocket connection of a campaign, from `hello` to close.
///
/// Three tasks share the connection: the reader (this function's body) handles client frames
/// in order; the ``OutboundQueue`` writes frames into the channel itself, and the closer task
/// performs the close handshake after the last of them; the watchdog sends pings, enforces the
/// hello and pong deadlines and token expiry, and drops peers that stopped reading.
struct PartySyncConnection {
    let campaignID: String
    let hub: PartySyncHub
    let tokens: TokenAuthority
    let channel: any Channel
    let logger: Logger

    var settings: PartySyncSettings { hub.settings }

    /// Mutable facts shared by the three tasks.
    final class Shared: Sendable {
        struct Values {
            var claims: TokenClaims?
            /// The campaign channel once subscribed; released when the connection ends.
            var channel: CampaignChannel?
            var awaitingPongSince: ContinuousClock.Instant?
            var rateLimitedTimes: [ContinuousClock.Instant] = []
            var invalidFrameTimes: [ContinuousClock.Instant] = []
            /// When the writer sent a close frame; the peer is dropped if it does not answer.
            var closeSentAt: ContinuousClock.Instant?
        }
        let values = Mutex(Values())
        /// Wakes the watchdog when a deadline it keeps changes.
        let alarm: WatchdogAlarm

        init(alarm: WatchdogAlarm) {
            self.alarm = alarm
        }
    }

    func run(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async {
        let connectionID = "c_" + EventIdentity.randomToken(length: 10)
        let writer = ChannelFrameWriter(channel: channel)
        let queue = OutboundQueue(limitBytes: settings.outboundQueueBytes, sink: writer, metrics: hub.metrics)
        let shared = Shared(alarm: WatchdogAlarm(eventLoop: channel.eventLoop))
        var logger = self.logger
        logger[metadataKey: "conn"] = .string(connectionID)
        logger[metadataKey: "campaign"] = .string(campaignID)
        hub.metrics.connectionOpened()
        defer { hub.metrics.connectionClosed() }

        await withGracefulShutdownHandler {
            await withTaskGroup(of: Bool.self) { group in
                group.addTask {
                    await writeLoop(queue: queue, outbound: outbound, shared: shared)
                    return true
                }
                group.addTask {
                    await watchdog(queue: queue, shared: shared)
                    return false
                }
                do {
                    try await readLoop(connectionID: connectionID, inbound: inbound, queue: queue, shared: shared, logger: logger)
                } catch {
                    logger.debug("connection ended", metadata: ["error": "\(error)"])
                }
                if let channelHeld = shared.values.withLock({ $0.channel }) {
                    channelHeld.unsubscribe(connection: connectionID)
                    hub.releaseChannel(campaignID)
                }
                // Let the writer send what is queued (a last error, the close frame), then stop.
                queue.finish()
                for await writerFinished in group where writerFinished {
                    break
                }
                group.cancelAll()
            }
        } onGracefulShutdown: {
            // The WebSocket layer closes every connection with 1000 on shutdown; 4000 must reach
            // the client first so it knows to reconnect and resume.
            queue.finish()
            writer.writeClose(.shutdown, reason: "server shutting down: reconnect and resume")
        }
    }

    // MARK: - Writer and watchdog

    private func writeLoop(queue: OutboundQueue, outbound: WebSocketOutboundWriter, shared: Shared) async {
        // Frames are written by the queue itself; this task only performs the close handshake,
        // which follows every frame queued before it.
        while let item = await queue.next() {
            do {
                switch item {
                case .close(let code, let reason):
                    if code == .slowConsumer { hub.metrics.recordSlowConsumerClose() }
                    shared.values.withLock { $0.closeSentAt = .now }
                    // The watchdog drops a peer that does not answer the close: from now on.
                    shared.alarm.nudge()
                    await queue.drainBeforeClose()
                    try await outbound.close(.init(codeNumber: Int(code.rawValue)), reason: reason)
                    return
                }
            } catch {
                channel.close(promise: nil)
                return
            }
        }
    }

    private func watchdog(queue: OutboundQueue, shared: Shared) async {
        let helloDeadline = ContinuousClock.now + settings.helloTimeout
        var nextPing = ContinuousClock.now + settings.pingInterval
        var slowSince: ContinuousClock.Instant?
        // Sleep until the next deadline rather than ticking: an idle connection wakes once per
        // ping interval. What other tasks change that needs acting on sooner (a close frame
        // sent, which a slow queue leads to as well) nudges the alarm.
        var wake = min(helloDeadline, nextPing)
        while !Task.isCancelled {
            await shared.alarm.sleep(until: wake)
            if Task.isCancelled { return }
            let now = ContinuousClock.now
            wake = nextPing
            let values = shared.values.withLock { $0 }
            if let closeSentAt = values.closeSentAt {
                // A peer that does not answer the close handshake is dropped.
                if now - closeSentAt > settings.closeTimeout {
                    channel.close(promise: nil)
                    return
                }
                wake = closeSentAt + settings.closeTimeout + .milliseconds(1)
                continue
            }
            guard let claims = values.claims else {
                if now >= helloDeadline {
                    hub.metrics.recordProtocolError("hello_timeout")
                    queue.close(.protocolViolation, reason: "no hello within \(settings.helloTimeout)")
                }
                wake = helloDeadline
                continue
            }
            let untilExpiry = claims.expiresAt.timeIntervalSinceNow
            if untilExpiry <= 0 {
                queue.enqueue(ServerFrame.error(.tokenExpired, reason: "token_expired", detail: "The token expired; reconnect with a new token and resume."))
                queue.close(.badToken, reason: "token expired")
                continue
            }
            wake = min(wake, now + .milliseconds(Int64((untilExpiry * 1000).rounded(.up))))
            if queue.isSlow {
                // The close is queued behind frames the peer is not reading; drop it after a while.
                slowSince = slowSince ?? now
                if now - slowSince! > .seconds(10) {
                    channel.close(promise: nil)
                    return
                }
                wake = min(wake, slowSince! + .seconds(10) + .milliseconds(1))
                continue
            }
            if let since = values.awaitingPongSince {
                if now - since > settings.pongTimeout {
                    queue.close(.noPong, reason: "no pong within \(settings.pongTimeout)")
                    continue
                }
                wake = min(wake, since + settings.pongTimeout + .milliseconds(1))
            }
            if now >= nextPing {
                nextPing = now + settings.pingInterval
                shared.values.withLock { values in
                    if values.awaitingPongSince == nil { values.awaitingPongSince = now }
                }
                queue.enqueue(ServerFrame.ping)
                wake = min(nextPing, now + settings.pongTimeout + .milliseconds(1))
            }
        }
    }
}
