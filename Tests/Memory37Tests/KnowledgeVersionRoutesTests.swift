import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Memory37
import NIOCore
import ServiceKit
import TestSupport
import Testing

@Suite("/v1/knowledge versions, aliases and policies over HTTP")
struct KnowledgeVersionRoutesTests {
    struct Tokens: Sendable {
        let player: String, gm: String, other: String, service: String
    }

    func withApp(_ body: @Sendable (any TestClientProtocol, Tokens) async throws -> Void) async throws {
        let tokens = await TokenAuthority(secret: Array("a-test-secret-of-at-least-32-bytes!!".utf8))
        let service = KnowledgeService(store: InMemoryKnowledgeStore(dimensions: 256), embedder: HashingEmbedder(), lifetimes: [.art: 30 * 86_400], logger: StoreFixture.quiet)
        _ = try await service.ingest(StoreFixture.demoDocuments())
        let catalog = RouteCatalog()
        let router = Router(context: AppRequestContext.self)
        router.add(middleware: ProblemMiddleware(catalog: catalog, traceID: { nil }))
        KnowledgeRoutes(service: service, tokens: tokens).register(on: CatalogedRouter(router: router, catalog: catalog))
        let issued = Tokens(
            player: try await tokens.issue(subject: "ada", campaign: "demo", role: .player, ttl: 600),
            gm: try await tokens.issue(subject: "gm-1", campaign: "demo", role: .gm, ttl: 600),
            other: try await tokens.issue(subject: "zed", campaign: "other", role: .gm, ttl: 600),
            service: try await tokens.issue(subject: "ops", campaign: "*", role: .service, ttl: 600)
        )
        try await Application(router: router).test(.router) { client in try await body(client, issued) }
    }

    func call(_ client: any TestClientProtocol, _ method: HTTPRequest.Method, _ path: String, _ token: String, _ body: String? = nil) async throws -> (HTTPResponse.Status, [String: Any]) {
        var headers: HTTPFields = [.authorization: "Bearer \(token)"]
        if body != nil { headers[.contentType] = "application/json" }
        return try await client.execute(uri: path, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) }) { response in
            (response.status, (try? JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any]) ?? [:])
        }
    }

    func hits(_ body: [String: Any]) -> [[String: Any]] { (body["hits"] as? [[String: Any]]) ?? [] }

    @Test("ingest into a version, alias it, read through it, pin, roll back, list")
    func lifecycle() async throws {
        try await withApp { client, tokens in
            let document = #"{"id": "lore.kestrel", "title": "Kestrel Light", "text": "The lighthouse keeper Odile counts gulls at dusk."}"#
            var (status, body) = try await call(client, .post, "/v1/knowledge/ingest", tokens.gm, #"{"campaign_id": "demo", "version": "lore-2026-12-05", "from": "lore_latest", "alias": "lore_next", "documents": [\#(document)]}"#)
            #expect(status == .ok, "\(body)")
            #expect((body["version"] as? [String: Any])?["state"] as? String == "published")
            #expect((body["alias"] as? [String: Any])?["to"] as? String == "lore-2026-12-05")
            #expect(((body["carried"] as? [String]) ?? []).contains("lore.factions"), "the working lore is carried over")
            // lore_latest still reads the working version; the new one only through its alias.
            (status, body) = try await call(client, .post, "/v1/knowledge/lore_search", tokens.player, #"{"query": "lighthouse keeper gulls"}"#)
            #expect(!hits(body).contains { $0["source_id"] as? String == "lore.kestrel" })
            #expect((body["versions"] as? [String: String])?["lore"] == "lore-working")
            (status, body) = try await call(client, .post, "/v1/knowledge/lore_search", tokens.player, #"{"query": "lighthouse keeper gulls", "versions": {"lore": "lore_next"}}"#)
            #expect(hits(body).first?["id"] as? String == "demo:lore.kestrel#0@lore-2026-12-05")
            #expect(hits(body).first?["version"] as? String == "lore-2026-12-05")
            #expect((body["versions"] as? [String: String])?["lore"] == "lore-2026-12-05")
            // Switch lore_latest: the next read answers from the new version.
            (status, body) = try await call(client, .put, "/v1/knowledge/aliases/lore_latest", tokens.gm, #"{"campaign_id": "demo", "version": "lore-2026-12-05"}"#)
            #expect(status == .ok && body["from"] is NSNull && body["to"] as? String == "lore-2026-12-05" && body["changed_by"] as? String == "gm-1")
            (status, body) = try await call(client, .post, "/v1/knowledge/search", tokens.player, #"{"query": "lighthouse keeper gulls", "domains": ["lore"]}"#)
            #expect(hits(body).first?["source_id"] as? String == "lore.kestrel")
            // Listing.
            (status, body) = try await call(client, .get, "/v1/knowledge/versions", tokens.player)
            let versions = (body["versions"] as? [[String: Any]]) ?? []
            let dated = versions.first { $0["id"] as? String == "lore-2026-12-05" }
            #expect(status == .ok && dated?["documents"] as? Int == 13 && dated?["created_by"] as? String == "gm-1")
            #expect(Set((dated?["aliases"] as? [String]) ?? []) == ["lore_latest", "lore_next"])
            #expect(versions.contains { $0["id"] as? String == "npc-working" && $0["state"] as? String == "working" })
            (status, body) = try await call(client, .get, "/v1/knowledge/aliases?campaign_id=demo", tokens.player)
            let aliases = (body["aliases"] as? [[String: Any]]) ?? []
            #expect(aliases.contains { $0["name"] as? String == "npc_latest" && $0["implicit"] as? Bool == true && $0["version"] as? String == "npc-working" })
            #expect(aliases.contains { $0["name"] as? String == "lore_latest" && $0["implicit"] as? Bool == false })
            #expect(((body["history"] as? [[String: Any]]) ?? []).count == 2)
            // Roll back: the working version again.
            (status, body) = try await call(client, .post, "/v1/knowledge/aliases/lore_latest/rollback", tokens.gm, #"{"campaign_id": "demo"}"#)
            #expect(status == .ok && body["to"] is NSNull)
            (status, body) = try await call(client, .post, "/v1/knowledge/search", tokens.player, #"{"query": "lighthouse keeper gulls", "domains": ["lore"]}"#)
            #expect(!hits(body).contains { $0["source_id"] as? String == "lore.kestrel" })
        }
    }

    @Test("refusals: roles, scopes, states and names, each a problem naming what is wrong")
    func refusals() async throws {
        try await withApp { client, tokens in
            _ = try await call(client, .post, "/v1/knowledge/ingest", tokens.gm, #"{"campaign_id": "demo", "version": "lore-draft", "documents": [{"id": "lore.a", "text": "A draft."}]}"#)
            let cases: [(HTTPRequest.Method, String, String, String?, HTTPResponse.Status, String)] = [
                (.put, "/v1/knowledge/aliases/lore_latest", tokens.player, #"{"campaign_id": "demo", "version": "lore-draft"}"#, .forbidden, "forbidden_role"),
                (.put, "/v1/knowledge/aliases/lore_latest", tokens.other, #"{"campaign_id": "demo", "version": "lore-draft"}"#, .forbidden, "forbidden_campaign"),
                (.put, "/v1/knowledge/aliases/srd_latest", tokens.gm, #"{"version": "srd-2014"}"#, .forbidden, "forbidden_scope"),
                (.put, "/v1/knowledge/aliases/lore_latest", tokens.gm, #"{"campaign_id": "demo", "version": "lore-draft"}"#, .conflict, "version_not_published"),
                (.put, "/v1/knowledge/aliases/lore_latest", tokens.gm, #"{"campaign_id": "demo", "version": "lore-none"}"#, .notFound, "unknown_version"),
                (.put, "/v1/knowledge/aliases/lore_latest", tokens.gm, #"{"campaign_id": "demo"}"#, .unprocessableContent, "validation_failed"),
                (.put, "/v1/knowledge/aliases/Bad%20Name", tokens.gm, #"{"campaign_id": "demo", "version": "lore-draft"}"#, .badRequest, "invalid_name"),
                (.post, "/v1/knowledge/aliases/lore_latest/rollback", tokens.gm, #"{"campaign_id": "demo"}"#, .conflict, "nothing_to_roll_back"),
                (.post, "/v1/knowledge/versions/lore-none/publish", tokens.gm, #"{"campaign_id": "demo"}"#, .notFound, "unknown_version"),
                (.post, "/v1/knowledge/versions/lore-working/retire", tokens.gm, #"{"campaign_id": "demo"}"#, .conflict, "version_working"),
                (.post, "/v1/knowledge/search", tokens.player, #"{"query": "x", "versions": {"lore": "lore-none"}}"#, .notFound, "unknown_version"),
                (.post, "/v1/knowledge/search", tokens.player, #"{"query": "x", "versions": {"dragons": "x"}}"#, .unprocessableContent, "validation_failed"),
                (.post, "/v1/knowledge/search", tokens.player, #"{"query": "x", "versions": {"lore": "Not Valid"}}"#, .unprocessableContent, "validation_failed"),
                (.post, "/v1/knowledge/ingest", tokens.gm, #"{"version": "lore-x", "campaign_id": "demo", "documents": [{"id": "a", "domain": "npc", "text": "x"}, {"id": "b", "text": "y"}]}"#, .unprocessableContent, "validation_failed"),
                (.post, "/v1/knowledge/ingest", tokens.gm, #"{"campaign_id": "demo", "publish": true, "documents": [{"id": "a", "text": "x"}]}"#, .unprocessableContent, "validation_failed"),
                (.post, "/v1/knowledge/ingest", tokens.gm, #"{"campaign_id": "demo", "documents": [{"id": "a", "text": "x", "ttl": "forever"}]}"#, .unprocessableContent, "validation_failed"),
                (.put, "/v1/knowledge/policies", tokens.gm, #"{"campaign_id": "demo", "ttl": {"episode": "soon"}}"#, .unprocessableContent, "validation_failed"),
                (.put, "/v1/knowledge/policies", tokens.gm, #"{"ttl": {"episode": "90d"}}"#, .unprocessableContent, "validation_failed"),
                (.get, "/v1/knowledge/versions?campaign_id=other", tokens.player, nil, .forbidden, "forbidden_campaign"),
            ]
            for (method, path, token, body, expected, code) in cases {
                let (status, problem) = try await call(client, method, path, token, body)
                #expect(status == expected && problem["code"] as? String == code, "\(method) \(path) \(body ?? ""): \(status) \(problem)")
            }
            // Publishing the draft then aliasing it works; publishing again changes nothing.
            var (status, body) = try await call(client, .post, "/v1/knowledge/versions/lore-draft/publish", tokens.gm, #"{"campaign_id": "demo"}"#)
            #expect(status == .ok && body["state"] as? String == "published")
            (status, body) = try await call(client, .post, "/v1/knowledge/versions/lore-draft/publish", tokens.gm, #"{"campaign_id": "demo"}"#)
            #expect(status == .ok && body["state"] as? String == "published")
            (status, body) = try await call(client, .post, "/v1/knowledge/ingest", tokens.gm, #"{"campaign_id": "demo", "version": "lore-draft", "documents": [{"id": "lore.b", "text": "More."}]}"#)
            #expect(status == .conflict && body["code"] as? String == "version_published")
            // The global scope: a service token may switch it.
            (status, body) = try await call(client, .post, "/v1/knowledge/ingest", tokens.service, #"{"version": "srd-house", "alias": "srd_latest", "documents": [{"id": "rules.x", "domain": "srd", "text": "Flanking gives advantage."}]}"#)
            #expect(status == .ok && (body["alias"] as? [String: Any])?["name"] as? String == "srd_latest", "\(body)")
            (status, body) = try await call(client, .post, "/v1/knowledge/rules_lookup", tokens.player, #"{"query": "flanking advantage"}"#)
            #expect(hits(body).first?["source_id"] as? String == "rules.x")
            #expect((body["versions"] as? [String: String])?["srd"] == "srd-house")
        }
    }

    @Test("policies: defaults, a campaign's overrides, what reads see")
    func policies() async throws {
        try await withApp { client, tokens in
            var (status, body) = try await call(client, .get, "/v1/knowledge/policies", tokens.player)
            #expect(status == .ok && (body["ttl"] as? [String: Any])?["art"] as? String == "30d")
            #expect((body["ttl"] as? [String: Any])?["episode"] is NSNull)
            (status, body) = try await call(client, .put, "/v1/knowledge/policies", tokens.gm, #"{"campaign_id": "demo", "ttl": {"episode": "2w", "art": "none"}}"#)
            #expect(status == .ok && (body["ttl"] as? [String: Any])?["episode"] as? String == "2w")
            #expect((body["ttl"] as? [String: Any])?["art"] is NSNull)
            (status, body) = try await call(client, .get, "/v1/knowledge/policies?campaign_id=demo", tokens.player)
            #expect((body["ttl"] as? [String: Any])?["episode"] as? String == "2w")
            #expect(((body["defaults"] as? [String: Any])?["art"]) as? String == "30d")
            // A document that expired already is invisible to every read at once.
            (status, _) = try await call(client, .post, "/v1/knowledge/ingest", tokens.gm, #"{"campaign_id": "demo", "documents": [{"id": "lore.gone", "text": "The vanished tower of Qel.", "expires": "2020-01-01"}]}"#)
            #expect(status == .ok)
            (status, body) = try await call(client, .post, "/v1/knowledge/search", tokens.gm, #"{"query": "vanished tower Qel"}"#)
            #expect(!hits(body).contains { $0["source_id"] as? String == "lore.gone" })
        }
    }
}
