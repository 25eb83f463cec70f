public import ServiceKit

/// One event of a campaign's stream, as stored and as delivered.
public struct CampaignEvent: Sendable, Equatable {
    public var campaignID: String
    /// Gapless position in the campaign, from 1.
    public var offset: Int64
    /// The campaign's history generation; see ``CampaignHead/epoch``.
    public var epoch: String
    /// Globally unique event id (`ev_…`).
    public var id: String
    /// Application type, e.g. `chat.say`, `dice.rolled`, `gm.scene`.
    public var type: String
    /// The `sub` of the publisher.
    public var actor: String
    public var role: Role
    /// The publisher's client message id, if it gave one.
    public var cmid: String?
    /// Commit time, milliseconds since the Unix epoch.
    public var timestamp: Int64
    /// The payload as canonical JSON text.
    public var payload: String

    public init(campaignID: String, offset: Int64, epoch: String, id: String, type: String, actor: String, role: Role, cmid: String?, timestamp: Int64, payload: String) {
        self.campaignID = campaignID
        self.offset = offset
        self.epoch = epoch
        self.id = id
        self.type = type
        self.actor = actor
        self.role = role
        self.cmid = cmid
        self.timestamp = timestamp
        self.payload = payload
    }
}

/// What a publisher hands to the store: everything but the offset, id and time.
public struct EventDraft: Sendable, Equatable {
    public var campaignID: String
    public var type: String
    public var actor: String
    public var role: Role
    public var cmid: String?
    /// Canonical JSON text of the payload.
    public var payload: String
    /// What makes a repeat of this `cmid` the same request, when that is not the event itself:
    /// a generated broadcast is identified by the request that produced it, since a model's
    /// second answer to the same request differs. nil: the type and payload identify it.
    public var requestFingerprint: String?

    public init(campaignID: String, type: String, actor: String, role: Role, cmid: String?, payload: String, requestFingerprint: String? = nil) {
        self.campaignID = campaignID
        self.type = type
        self.actor = actor
        self.role = role
        self.cmid = cmid
        self.payload = payload
        self.requestFingerprint = requestFingerprint
    }

    /// The fingerprint a repeated `cmid` is compared by.
    public var fingerprint: String {
        requestFingerprint.map(Self.fingerprint(ofRequest:)) ?? EventFingerprint.of(self)
    }

    /// The fingerprint stored for a `cmid` that a request identifies (kept apart from payload
    /// fingerprints, so a request never matches an event by accident).
    public static func fingerprint(ofRequest requestFingerprint: String) -> String {
        "request:" + requestFingerprint
    }
}

/// A `cmid` already used within the idempotency window: the event it named and what that
/// request was identified by.
public struct IdempotencyRecord: Sendable, Equatable {
    public var offset: Int64
    public var eventID: String
    public var fingerprint: String

    public init(offset: Int64, eventID: String, fingerprint: String) {
        self.offset = offset
        self.eventID = eventID
        self.fingerprint = fingerprint
    }
}

/// The state of a campaign's stream.
public struct CampaignHead: Sendable, Equatable {
    /// Changes only when the campaign's history is lost or reset, so a client can tell
    /// "you missed nothing" from "start over".
    public var epoch: String
    /// The last offset assigned; 0 for an empty stream.
    public var top: Int64
    /// The first offset still retained; `top + 1` when nothing is retained.
    public var firstRetained: Int64

    public init(epoch: String, top: Int64, firstRetained: Int64) {
        self.epoch = epoch
        self.top = top
        self.firstRetained = firstRetained
    }
}

/// The outcome of ``EventLog/append(_:)``.
public enum AppendOutcome: Sendable, Equatable {
    /// Stored under a new offset.
    case stored(CampaignEvent)
    /// The `cmid` was seen before with the same payload: the original event's coordinates.
    case duplicate(offset: Int64, id: String, epoch: String)

    public var offset: Int64 {
        switch self {
        case .stored(let event): event.offset
        case .duplicate(let offset, _, _): offset
        }
    }
}

/// Errors a store reports to publishers.
public enum EventLogError: Error, Equatable, CustomStringConvertible {
    /// The `cmid` was used before by the same sender with a different type or payload.
    case cmidConflict(cmid: String, originalOffset: Int64)

    public var description: String {
        switch self {
        case .cmidConflict(let cmid, let offset): "cmid \(cmid) was already used for a different event (offset \(offset))"
        }
    }
}
