import JSONValues
import Foundation
import ServiceKit

/// A frame from a client. Every member is checked on its own so that each missing or
/// mistyped one gets its own error; the payload keeps its exact JSON (numbers as written).
struct ClientFrame {
    struct Since {
        let epoch: String
        let offset: Int64
    }

    let t: String
    let v: Int?
    let token: String?
    let since: Since?
    let cmid: String?
    let type: String?
    let payload: ExactJSON?
    let state: JSONValue?
    let before: Int64?
    let limit: Int?

    /// Why a text is not a frame.
    enum Problem: Error, Equatable {
        /// Not one JSON object.
        case invalidJSON
        /// A required member is absent (its JSON Pointer).
        case missing(String)
        /// A member has the wrong type, or a number that does not fit it (its JSON Pointer).
        case wrongType(String)
    }

    init(parsing text: String) throws(Problem) {
        guard let parsed = try? ExactJSON.parse(text), case .object(let members) = parsed else { throw .invalidJSON }
        func string(_ name: String, in object: [String: ExactJSON], at path: String = "") throws(Problem) -> String? {
            switch object[name] {
            case nil, .null?: return nil
            case .string(let value)?: return value
            default: throw .wrongType(path + "/" + name)
            }
        }
        func integer(_ name: String, in object: [String: ExactJSON], at path: String = "") throws(Problem) -> Int64? {
            switch object[name] {
            case nil, .null?: return nil
            case .number?:
                guard let value = object[name]?.int64Value else { throw .wrongType(path + "/" + name) }
                return value
            default: throw .wrongType(path + "/" + name)
            }
        }
        guard let type = try string("t", in: members) else { throw .missing("/t") }
        t = type
        v = try integer("v", in: members).flatMap { Int(exactly: $0) }
        token = try string("token", in: members)
        cmid = try string("cmid", in: members)
        self.type = try string("type", in: members)
        before = try integer("before", in: members)
        limit = try integer("limit", in: members).flatMap { Int(exactly: $0) }
        payload = members["payload"].flatMap { $0 == .null ? nil : $0 }
        state = members["state"].flatMap { $0 == .null ? nil : $0.jsonValue }
        switch members["since"] {
        case nil, .null?:
            since = nil
        case .object(let object)?:
            guard let epoch = try string("epoch", in: object, at: "/since") else { throw .missing("/since/epoch") }
            guard let offset = try integer("offset", in: object, at: "/since") else { throw .missing("/since/offset") }
            since = Since(epoch: epoch, offset: offset)
        default:
            throw .wrongType("/since")
        }
    }
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
