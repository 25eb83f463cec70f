public import JSONValues
import Foundation
public import Hummingbird
public import ServiceKit

/// A knowledge request body, read field by field so that every bad value gets its own JSON
/// Pointer in the 422. The graph routes read their bodies with it too.
public struct KnowledgeRequest {
    public let fields: [String: JSONValue]
    let limits: KnowledgeLimits

    public static func read(_ request: Request, context: AppRequestContext, limits: KnowledgeLimits) async throws -> KnowledgeRequest {
        let value = try await request.decodeJSON(as: JSONValue.self, context: context)
        guard case .object(let fields) = value else {
            throw APIError.validation([.init(pointer: "", detail: "the body must be a JSON object")])
        }
        return KnowledgeRequest(fields: fields, limits: limits)
    }

    public func text(_ name: String) throws -> String {
        guard case .string(let text)? = fields[name] else {
            throw APIError.validation([.init(pointer: "/\(name)", detail: "is required and must be a string")])
        }
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw APIError.validation([.init(pointer: "/\(name)", detail: "must not be empty")]) }
        guard trimmed.count <= limits.maxQueryLength else {
            throw APIError.validation([.init(pointer: "/\(name)", detail: "must be at most \(limits.maxQueryLength) characters")])
        }
        return trimmed
    }

    /// An optional list of at most 50 non-empty strings (ids or names).
    public func texts(_ name: String) throws -> [String] {
        guard let value = fields[name], value != .null else { return [] }
        guard case .array(let items) = value, items.count <= 50 else { throw APIError.validation([.init(pointer: "/\(name)", detail: "must be a list of at most 50 node ids or names")]) }
        return try items.enumerated().map { index, item in
            guard let text = item.stringValue?.trimmingCharacters(in: .whitespacesAndNewlines), !text.isEmpty, text.count <= limits.maxQueryLength else {
                throw APIError.validation([.init(pointer: "/\(name)/\(index)", detail: "must be a non-empty string of at most \(limits.maxQueryLength) characters")])
            }
            return text
        }
    }

    func k(default value: Int = 8) throws -> Int {
        try integer("k", range: 1...limits.maxK) ?? value
    }

    public func integer(_ name: String, range: ClosedRange<Int>) throws -> Int? {
        guard let value = fields[name], value != .null else { return nil }
        guard let number = value.intValue, range.contains(number) else {
            throw APIError.validation([.init(pointer: "/\(name)", detail: "must be an integer \(range.lowerBound)–\(range.upperBound)")])
        }
        return number
    }

    func domains() throws -> Set<KnowledgeDomain> {
        guard let value = fields["domains"], value != .null else { return [] }
        guard case .array(let names) = value else {
            throw APIError.validation([.init(pointer: "/domains", detail: "must be an array of \(KnowledgeDomain.acceptedList)")])
        }
        var domains = Set<KnowledgeDomain>()
        for (index, name) in names.enumerated() {
            guard let text = name.stringValue, let domain = KnowledgeDomain(rawValue: text) else {
                throw APIError.validation([.init(pointer: "/domains/\(index)", detail: "must be one of \(KnowledgeDomain.acceptedList)")])
            }
            domains.insert(domain)
        }
        return domains
    }

    func mode() throws -> SearchMode {
        guard let value = fields["mode"], value != .null else { return .hybrid }
        guard let text = value.stringValue, let mode = SearchMode(rawValue: text) else {
            throw APIError.validation([.init(pointer: "/mode", detail: "must be hybrid, bm25 or vector")])
        }
        return mode
    }

    func campaignID() throws -> String? {
        guard let value = fields["campaign_id"], value != .null else { return nil }
        guard let id = value.stringValue, PathIdentifier.isValid(id) else {
            throw APIError.validation([.init(pointer: "/campaign_id", detail: "must match ^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")])
        }
        return id
    }

    /// `versions`: a version id or alias name per domain, pinning what the read sees.
    public func pins() throws -> [KnowledgeDomain: String] {
        guard let value = fields["versions"], value != .null else { return [:] }
        guard case .object(let entries) = value else {
            throw APIError.validation([.init(pointer: "/versions", detail: "must be an object of domain: version or alias")])
        }
        var pins: [KnowledgeDomain: String] = [:]
        for (key, entry) in entries {
            guard let domain = KnowledgeDomain(rawValue: key) else {
                throw APIError.validation([.init(pointer: "/versions/\(key)", detail: "is not a domain; domains are \(KnowledgeDomain.acceptedList)")])
            }
            guard let name = entry.stringValue, KnowledgeVersion.isValidName(name) else {
                throw APIError.validation([.init(pointer: "/versions/\(key)", detail: "must be a version id or alias name matching \(KnowledgeVersion.namePattern)")])
            }
            pins[domain] = name
        }
        return pins
    }

    /// An optional version id or alias name field.
    func versionName(_ name: String) throws -> String? {
        guard let value = fields[name], value != .null else { return nil }
        guard let text = value.stringValue, KnowledgeVersion.isValidName(text) else {
            throw APIError.validation([.init(pointer: "/\(name)", detail: "must match \(KnowledgeVersion.namePattern)")])
        }
        return text
    }

    func boolean(_ name: String) throws -> Bool? {
        guard let value = fields[name], value != .null else { return nil }
        guard case .bool(let flag) = value else { throw APIError.validation([.init(pointer: "/\(name)", detail: "must be true or false")]) }
        return flag
    }

    /// The caller's view: the requested campaign (which the token must cover), else the
    /// token's own campaign; `gm` chunks for gm and service tokens only.
    public func filter(context: AppRequestContext, domains: Set<KnowledgeDomain> = []) throws -> SearchFilter {
        try Self.filter(caller: try context.requireIdentity(), campaign: try campaignID(), domains: domains)
    }

    static func filter(caller: TokenClaims, campaign requested: String?, domains: Set<KnowledgeDomain> = []) throws -> SearchFilter {
        var campaign = requested
        if let requested, caller.campaign != "*", caller.campaign != requested {
            throw APIError(.forbidden, code: "forbidden_campaign", detail: "The token is for campaign \(caller.campaign), not \(requested).")
        }
        if campaign == nil, caller.campaign != "*" { campaign = caller.campaign }
        return SearchFilter(campaignID: campaign, domains: domains, includeGM: caller.role != .player)
    }
}
