import Foundation
import ServiceKit

/// A frame from a client, decoded loosely so that each missing or mistyped field gets its
/// own error rather than one generic decoding failure.
struct ClientFrame: Decodable {
    struct Since: Decodable {
        let epoch: String
        let offset: Int64
    }

    let t: String
    let v: Int?
    let token: String?
    let since: Since?
    let cmid: String?
    let type: String?
    let payload: JSONValue?
    let state: JSONValue?
    let before: Int64?
    let limit: Int?
}

/// Encodes server frames as compact JSON text. Event frames are encoded once per event and
/// shared by every recipient.
enum ServerFrame {
    static func event(_ event: CampaignEvent, replayed: Bool) -> String {
        #"{"t":"event","# + fields(of: event, replayed: replayed) + "}"
    }

    /// An event as a JSON object without the frame tag, for history pages and REST.
    static func eventObject(_ event: CampaignEvent) -> String {
        "{" + fields(of: event, replayed: false) + "}"
    }

    private static func fields(of event: CampaignEvent, replayed: Bool) -> String {
        var text = #""offset":"# + String(event.offset)
        text += #","epoch":"# + JSONValue.quoted(event.epoch)
        text += #","id":"# + JSONValue.quoted(event.id)
        text += #","type":"# + JSONValue.quoted(event.type)
        text += #","actor":"# + JSONValue.quoted(event.actor)
        text += #","role":""# + event.role.rawValue + "\""
        if let cmid = event.cmid { text += #","cmid":"# + JSONValue.quoted(cmid) }
        text += #","ts":"# + String(event.timestamp)
        if replayed { text += #","replayed":true"# }
        return text + #","payload":"# + event.payload
    }

    static func welcome(connection: String, head: CampaignHead, top: Int64, recovered: Bool, replayed: Int, reason: String?, presence: PresenceSnapshot, pingSeconds: Int) -> String {
        var text = #"{"t":"welcome","v":1,"conn":"# + JSONValue.quoted(connection)
        text += #","epoch":"# + JSONValue.quoted(head.epoch)
        text += #","top":"# + String(top)
        text += #","recovered":"# + (recovered ? "true" : "false")
        if let reason { text += #","reason":"# + JSONValue.quoted(reason) }
        text += #","replayed":"# + String(replayed)
        text += #","ping_s":"# + String(pingSeconds)
        text += #","presence":"# + presence.json + "}"
        return text
    }

    static func synced(top: Int64) -> String {
        #"{"t":"synced","top":"# + String(top) + "}"
    }

    static func ack(cmid: String, offset: Int64, id: String, duplicate: Bool) -> String {
        #"{"t":"ack","cmid":"# + JSONValue.quoted(cmid) + #","offset":"# + String(offset) + #","id":"# + JSONValue.quoted(id)
            + #","duplicate":"# + (duplicate ? "true" : "false") + "}"
    }

    static func error(_ code: PartySyncErrorCode, reason: String, detail: String? = nil, cmid: String? = nil, retryAfterMilliseconds: Int? = nil) -> String {
        var text = #"{"t":"error","code":"# + String(code.rawValue) + #","reason":"# + JSONValue.quoted(reason)
        text += #","temporary":"# + (code.isTemporary ? "true" : "false")
        if let detail { text += #","detail":"# + JSONValue.quoted(detail) }
        if let cmid { text += #","cmid":"# + JSONValue.quoted(cmid) }
        if let retryAfterMilliseconds { text += #","retry_after_ms":"# + String(retryAfterMilliseconds) }
        return text + "}"
    }

    static func history(_ events: [CampaignEvent], hasMore: Bool) -> String {
        #"{"t":"history","events":["# + events.map(eventObject).joined(separator: ",") + #"],"has_more":"# + (hasMore ? "true" : "false") + "}"
    }

    static let ping = #"{"t":"ping"}"#
}
