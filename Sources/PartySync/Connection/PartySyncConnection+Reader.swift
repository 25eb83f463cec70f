import JSONValues
import Foundation
import HummingbirdWebSocket
import Logging
import NIOCore
import ServiceKit
import Synchronization

extension PartySyncConnection {
    /// Reads frames until the peer goes away: first `hello`, then everything else.
    func readLoop(connectionID: String, inbound: WebSocketInboundStream, queue: OutboundQueue, shared: Shared, logger: Logger) async throws {
        // Frames up to four times the limit are read so that an oversized one gets its error
        // frame; anything larger is refused by the transport with 1009.
        var messages = inbound.messages(maxSize: settings.maxFrameBytes * 4).makeAsyncIterator()
        var bucket = TokenBucket(policy: .init(burst: settings.connectionBurst, refillPerSecond: settings.connectionRate), now: TokenBucketRateLimiter.monotonicSeconds())

        // 1. hello
        guard let first = try await messages.next() else { return }
        guard let hello = decode(first, queue: queue), hello.t == "hello" else {
            hub.metrics.recordProtocolError("expected_hello")
            queue.enqueue(ServerFrame.error(.badRequest, reason: "expected_hello", detail: "The first frame must be hello."))
            queue.close(.protocolViolation, reason: "the first frame must be hello")
            return
        }
        guard let claims = await accept(hello, queue: queue) else { return }
        shared.values.withLock { $0.claims = claims }
        // The watchdog slept towards the hello deadline; now the token's expiry and the pings count.
        shared.alarm.nudge()
        let channel = try await hub.retainChannel(campaignID)
        shared.values.withLock { $0.channel = channel }
        try await join(connectionID: connectionID, claims: claims, since: hello.since, channel: channel, queue: queue)

        // 2. everything else, in order. Every frame counts against the rate before it is even
        // parsed — garbage, binary frames and pongs too — so no kind of frame is free to flood.
        var lastRefusalReply: ContinuousClock.Instant?
        let inFlight = PublishesInFlight()
        while let message = try await messages.next() {
            if case .limited(let retryAfter) = bucket.acquire(now: TokenBucketRateLimiter.monotonicSeconds()) {
                hub.metrics.recordRateLimited()
                // A refused publish is answered with its cmid so the client can send it again;
                // other refusals at most once a second, so replies stay bounded too.
                let cmid = Self.cmidOfRefused(message, maxBytes: settings.maxFrameBytes)
                let now = ContinuousClock.now
                if cmid != nil || lastRefusalReply.map({ now - $0 >= .seconds(1) }) ?? true {
                    lastRefusalReply = now
                    queue.enqueue(ServerFrame.error(.rateLimited, reason: "rate_limited", cmid: cmid, retryAfterMilliseconds: milliseconds(retryAfter)))
                }
                if recordViolation(shared, invalid: false) {
                    queue.close(.abuse, reason: "sustained rate-limit violations")
                    return
                }
                continue
            }
            guard let frame = decode(message, queue: queue) else {
                // Frames that are not frames count towards the abuse threshold like refusals.
                if recordViolation(shared, invalid: true) {
                    queue.close(.abuse, reason: "sustained invalid frames")
                    return
                }
                continue
            }
            if frame.t == "pong" {
                shared.values.withLock { $0.awaitingPongSince = nil }
                continue
            }
            switch frame.t {
            case "publish":
                await publish(frame, claims: claims, queue: queue, inFlight: inFlight)
            case "presence_set":
                await setPresence(frame, claims: claims, channel: channel, queue: queue)
            case "history":
                // History read after a publish includes it, as if each publish were awaited.
                await inFlight.wait(untilAtMost: 0)
                await history(frame, queue: queue)
            case "hello":
                reject(queue, .badRequest, "already_joined", "hello is only valid as the first frame.")
            default:
                reject(queue, .badRequest, "unknown_frame", "Unknown frame type \(frame.t); expected publish, presence_set, history or pong.")
                if recordViolation(shared, invalid: true) {
                    queue.close(.abuse, reason: "sustained invalid frames")
                    return
                }
            }
        }
    }

    /// Parses a message into a frame, answering the error for anything that is not one.
    private func decode(_ message: WebSocketMessage, queue: OutboundQueue) -> ClientFrame? {
        let text: String
        switch message {
        case .text(let value):
            text = value
        case .binary:
            reject(queue, .badRequest, "binary_not_supported", "Send frames as text: one JSON object per frame.")
            return nil
        }
        guard text.utf8.count <= settings.maxFrameBytes else {
            hub.metrics.recordProtocolError("too_large")
            queue.enqueue(ServerFrame.error(.tooLarge, reason: "too_large", detail: "Frames are limited to \(settings.maxFrameBytes) bytes."))
            queue.close(.messageTooLarge, reason: "frame larger than \(settings.maxFrameBytes) bytes")
            return nil
        }
        do throws(ClientFrame.Problem) {
            return try ClientFrame(parsing: text)
        } catch {
            switch error {
            case .missing("/t"): reject(queue, .badRequest, "missing_field", "Every frame needs its type in \"t\".")
            case .missing(let pointer): reject(queue, .badRequest, "missing_field", "Missing \(pointer).")
            case .wrongType(let pointer): reject(queue, .badRequest, "wrong_type", "Wrong type at \(pointer): counts and offsets are whole numbers within 64 bits.")
            case .invalidJSON: reject(queue, .badRequest, "invalid_json", "A frame must be one JSON object.")
            }
            return nil
        }
    }

    /// Verifies `hello`: version, token, role and campaign. Closes the connection otherwise.
    private func accept(_ hello: ClientFrame, queue: OutboundQueue) async -> TokenClaims? {
        guard hello.v == nil || hello.v == 1 else {
            hub.metrics.recordProtocolError("unsupported_version")
            queue.enqueue(ServerFrame.error(.badRequest, reason: "unsupported_version", detail: "This server speaks protocol version 1."))
            queue.close(.protocolViolation, reason: "unsupported protocol version")
            return nil
        }
        guard let token = hello.token, !token.isEmpty else {
            hub.metrics.recordProtocolError("bad_token")
            queue.enqueue(ServerFrame.error(.unauthorized, reason: "token_missing", detail: "hello needs a token."))
            queue.close(.badToken, reason: "token missing")
            return nil
        }
        let claims: TokenClaims
        do {
            claims = try await tokens.verify(token)
        } catch {
            hub.metrics.recordProtocolError("bad_token")
            let expired = error == .expired
            queue.enqueue(ServerFrame.error(expired ? .tokenExpired : .unauthorized, reason: expired ? "token_expired" : "token_invalid"))
            queue.close(.badToken, reason: expired ? "token expired" : "token invalid")
            return nil
        }
        guard claims.role == .player || claims.role == .gm else {
            hub.metrics.recordProtocolError("not_member")
            queue.enqueue(ServerFrame.error(.forbidden, reason: "forbidden_role", detail: "Only players and game masters join a campaign."))
            queue.close(.notMember, reason: "role may not join")
            return nil
        }
        guard claims.allows(campaign: campaignID) else {
            hub.metrics.recordProtocolError("not_member")
            queue.enqueue(ServerFrame.error(.forbidden, reason: "forbidden_campaign", detail: "The token is not for campaign \(campaignID)."))
            queue.close(.notMember, reason: "token is for another campaign")
            return nil
        }
        return claims
    }

    /// Subscribes, then answers `welcome`, the replay and `synced`, with nothing lost or
    /// repeated at the seam: live events are held by the queue while history is read.
    private func join(connectionID: String, claims: TokenClaims, since: ClientFrame.Since?, channel: CampaignChannel, queue: OutboundQueue) async throws {
        let snapshot = channel.subscribe(connection: connectionID, user: claims.subject, role: claims.role, queue: queue)
        // The top read after subscribing splits the stream: up to it is replayed from the
        // store, after it arrives live (held by the queue until the replay is written).
        let head = try await hub.store.head(campaignID: campaignID)
        var firstPage: [CampaignEvent] = []
        var recovered = false
        var reason: String?
        if let since {
            reason = Self.unrecoverableReason(since: since, head: head, limit: settings.replayLimit)
            if reason == nil, since.offset < head.top {
                firstPage = try await hub.store.events(campaignID: campaignID, after: since.offset, limit: Self.replayPage)
                // Trimmed between the head and the read: not a complete replay.
                if firstPage.first?.offset != since.offset + 1 {
                    firstPage = []
                    reason = "too_old"
                }
            }
            recovered = reason == nil
        }
        let replayCount = recovered ? Int(head.top - since!.offset) : 0
        queue.enqueue(ServerFrame.welcome(
            connection: connectionID, head: head, top: head.top, recovered: recovered, replayed: replayCount,
            reason: reason, presence: snapshot, pingSeconds: Int(settings.pingInterval.inSeconds)
        ))
        if recovered, replayCount > 0 {
            // Page by page, so a long replay never sits in memory whole.
            var page = firstPage
            var written: Int64 = since!.offset
            while written < head.top {
                for event in page where event.offset > written && event.offset <= head.top {
                    guard event.offset == written + 1 else {
                        // History changed under the replay (a trim): the client must resume again.
                        queue.close(.shutdown, reason: "history changed during the replay: reconnect and resume")
                        return
                    }
                    guard await queue.enqueueReplayed(offset: event.offset, frame: ServerFrame.event(event, replayed: true)) else { return }
                    written = event.offset
                }
                guard written < head.top else { break }
                page = try await hub.store.events(campaignID: campaignID, after: written, limit: Self.replayPage)
                if page.isEmpty {
                    queue.close(.shutdown, reason: "history changed during the replay: reconnect and resume")
                    return
                }
            }
            hub.metrics.recordReplayed(replayCount)
        }
        if recovered {
            queue.enqueue(ServerFrame.synced(top: head.top))
        }
        queue.finishReplay(through: head.top)
    }

    static let replayPage = 200

    /// Why a resume cannot be honoured, or nil when it can.
    static func unrecoverableReason(since: ClientFrame.Since, head: CampaignHead, limit: Int) -> String? {
        if since.epoch != head.epoch { return "epoch_mismatch" }
        if since.offset < 0 { return "too_old" }
        if since.offset > head.top { return "future_offset" }
        if since.offset < head.top && since.offset + 1 < head.firstRetained { return "too_old" }
        if head.top - since.offset > Int64(limit) { return "too_many" }
        return nil
    }

    /// Most publishes of one connection handed to the store and not yet answered; the reader
    /// waits for an answer before queuing more.
    static let maxPublishesInFlight = 64

    private func publish(_ frame: ClientFrame, claims: TokenClaims, queue: OutboundQueue, inFlight: PublishesInFlight) async {
        guard let cmid = frame.cmid, !cmid.isEmpty, cmid.count <= 64 else {
            reject(queue, .badRequest, "invalid_cmid", "publish needs a cmid of 1 to 64 characters.", cmid: frame.cmid)
            return
        }
        guard let type = frame.type, EventValidation.isValidType(type, maxLength: settings.maxTypeLength) else {
            reject(queue, .badRequest, "invalid_type", EventValidation.typeRule(maxLength: settings.maxTypeLength), cmid: cmid)
            return
        }
        let draft: EventDraft
        do {
            draft = try ServerDice.resolve(EventDraft(
                campaignID: campaignID, type: type, actor: claims.subject, role: claims.role, cmid: cmid,
                payload: frame.payload?.canonicalText ?? "{}"
            ), payload: frame.payload)
        } catch {
            reject(queue, .badRequest, error.code, error.message, cmid: cmid)
            return
        }
        guard hub.queuesPublishes else {
            do {
                answer(.success(try await hub.publish(draft)), cmid: cmid, queue: queue)
            } catch {
                answer(.failure(error), cmid: cmid, queue: queue)
            }
            return
        }
        // The store answers on its commit path: the ack joins the event's own frames, and the
        // reader goes on with the next frame meanwhile.
        if inFlight.count >= Self.maxPublishesInFlight {
            await inFlight.wait(untilAtMost: Self.maxPublishesInFlight - 1)
        }
        inFlight.started()
        hub.enqueuePublish(draft) { result in
            answer(result, cmid: cmid, queue: queue)
            inFlight.finished()
        }
    }

    /// Queues the answer to a publish: its ack, or the error.
    private func answer(_ result: Result<AppendOutcome, any Error>, cmid: String, queue: OutboundQueue) {
        switch result {
        case .success(.stored(let event)):
            queue.enqueue(ServerFrame.ack(cmid: cmid, offset: event.offset, id: event.id, duplicate: false))
        case .success(.duplicate(let offset, let id, _)):
            queue.enqueue(ServerFrame.ack(cmid: cmid, offset: offset, id: id, duplicate: true))
        case .failure(let error as EventLogError):
            hub.metrics.recordProtocolError("cmid_conflict")
            queue.enqueue(ServerFrame.error(.cmidConflict, reason: "cmid_conflict", detail: error.description, cmid: cmid))
        case .failure(let error):
            logger.error("publish failed", metadata: ["error": "\(error)", "campaign": "\(campaignID)"])
            queue.enqueue(ServerFrame.error(.internalError, reason: "internal", detail: "The event was not stored; retry with the same cmid.", cmid: cmid, retryAfterMilliseconds: 1000))
        }
    }

    private func setPresence(_ frame: ClientFrame, claims: TokenClaims, channel: CampaignChannel, queue: OutboundQueue) async {
        guard let state = frame.state, state.objectValue != nil, state.canonicalText.utf8.count <= 1024 else {
            reject(queue, .badRequest, "invalid_state", "presence_set needs a state object of at most 1024 bytes.")
            return
        }
        channel.setPresenceState(user: claims.subject, state: state)
    }

    private func history(_ frame: ClientFrame, queue: OutboundQueue) async {
        let limit = frame.limit ?? 100
        guard (1...settings.maxHistoryPage).contains(limit) else {
            reject(queue, .badRequest, "invalid_limit", "limit must be 1–\(settings.maxHistoryPage).")
            return
        }
        do {
            let before = frame.before ?? Int64.max
            let page = try await hub.store.events(campaignID: campaignID, before: before, limit: limit + 1)
            queue.enqueue(ServerFrame.history(Array(page.prefix(limit).reversed()), hasMore: page.count > limit))
        } catch {
            logger.error("history failed", metadata: ["error": "\(error)"])
            queue.enqueue(ServerFrame.error(.internalError, reason: "internal", detail: "History is unavailable; retry.", retryAfterMilliseconds: 1000))
        }
    }

    private func reject(_ queue: OutboundQueue, _ code: PartySyncErrorCode, _ reason: String, _ detail: String, cmid: String? = nil) {
        hub.metrics.recordProtocolError(reason)
        queue.enqueue(ServerFrame.error(code, reason: reason, detail: detail, cmid: cmid))
    }

    /// The cmid of a refused frame, read only when the frame is small enough to have been
    /// accepted: a refused publish is answered with its cmid.
    static func cmidOfRefused(_ message: WebSocketMessage, maxBytes: Int) -> String? {
        guard case .text(let text) = message, text.utf8.count <= maxBytes,
              case .object(let members)? = try? ExactJSON.parse(text), case .string(let cmid)? = members["cmid"] else { return nil }
        return cmid
    }

    /// Records a refused or an invalid frame; whether the connection crossed an abuse
    /// threshold: `abuseThreshold` refusals, or `invalidFrameThreshold` invalid frames, within
    /// `abuseWindow`.
    private func recordViolation(_ shared: Shared, invalid: Bool) -> Bool {
        let now = ContinuousClock.now
        return shared.values.withLock { values in
            if invalid {
                values.invalidFrameTimes.append(now)
                values.invalidFrameTimes.removeAll { now - $0 > settings.abuseWindow }
                return values.invalidFrameTimes.count >= settings.invalidFrameThreshold
            }
            values.rateLimitedTimes.append(now)
            values.rateLimitedTimes.removeAll { now - $0 > settings.abuseWindow }
            return values.rateLimitedTimes.count >= settings.abuseThreshold
        }
    }

    private func milliseconds(_ duration: Duration) -> Int {
        duration.wholeMilliseconds
    }
}

/// Rules for event types shared by WebSocket and REST publish.
enum EventValidation {
    static func isValidType(_ type: String, maxLength: Int) -> Bool {
        guard let first = type.unicodeScalars.first, type.utf8.count <= maxLength,
              CharacterSet.alphanumerics.contains(first), first.isASCII else { return false }
        return type.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "._:-".unicodeScalars.contains($0)) }
    }

    static func typeRule(maxLength: Int) -> String {
        "type must be 1–\(maxLength) ASCII letters, digits, '.', '_', ':' or '-', starting with a letter or digit."
    }
}
