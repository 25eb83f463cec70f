import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Memory37
import NIOCore
import ServiceKit
import TestSupport
import Testing

@Suite("/v1/knowledge over HTTP")
struct KnowledgeRoutesTests {
    func withApp(
        store: any KnowledgeStore = InMemoryKnowledgeStore(dimensions: 256),
        _ body: @Sendable (any TestClientProtocol, _ player: String, _ gm: String, _ other: String) async throws -> Void
    ) async throws {
        let tokens = await TokenAuthority(secret: Array("a-test-secret-of-at-least-32-bytes!!".utf8))
        let service = KnowledgeService(store: store, embedder: HashingEmbedder(), logger: StoreFixture.quiet)
        _ = try await service.ingest(StoreFixture.demoDocuments())
        let catalog = RouteCatalog()
        let router = Router(context: AppRequestContext.self)
        router.add(middleware: ProblemMiddleware(catalog: catalog, traceID: { nil }))
        KnowledgeRoutes(service: service, tokens: tokens).register(on: CatalogedRouter(router: router, catalog: catalog))
        let player = try await tokens.issue(subject: "ada", campaign: "demo", role: .player, ttl: 600)
        let gm = try await tokens.issue(subject: "gm", campaign: "demo", role: .gm, ttl: 600)
        let other = try await tokens.issue(subject: "zed", campaign: "other", role: .gm, ttl: 600)
        try await Application(router: router).test(.router) { client in
            try await body(client, player, gm, other)
        }
    }

    func post(_ client: any TestClientProtocol, _ path: String, _ token: String, _ body: String) async throws -> (HTTPResponse.Status, [String: Any]) {
        try await client.execute(uri: path, method: .post, headers: [.authorization: "Bearer \(token)", .contentType: "application/json"], body: ByteBuffer(string: body)) { response in
            (response.status, (try? JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any]) ?? [:])
        }
    }

    @Test("search and read functions answer; gm knowledge only for gm tokens")
    func reads() async throws {
        try await withApp { client, player, gm, other in
            var (status, body) = try await post(client, "/v1/knowledge/search", player, #"{"query": "drowned bell truth sea hag", "k": 10}"#)
            #expect(status == .ok)
            let playerHits = (body["hits"] as? [[String: Any]]) ?? []
            #expect(!playerHits.isEmpty)
            #expect(!playerHits.contains { $0["source_id"] as? String == "lore.drowned-bell-secret" })
            #expect((playerHits.first?["why"] as? [String: Any])?["alias_hit"] != nil)
            (status, body) = try await post(client, "/v1/knowledge/search", gm, #"{"query": "drowned bell truth sea hag", "k": 10}"#)
            #expect(((body["hits"] as? [[String: Any]]) ?? []).contains { $0["source_id"] as? String == "lore.drowned-bell-secret" })
            // Another campaign's token sees none of demo's knowledge.
            (status, body) = try await post(client, "/v1/knowledge/search", other, #"{"query": "Old Tom Rusty Anchor"}"#)
            #expect(status == .ok)
            #expect((body["hits"] as? [Any])?.isEmpty == true)
            (status, _) = try await post(client, "/v1/knowledge/search", other, #"{"query": "Old Tom", "campaign_id": "demo"}"#)
            #expect(status == .forbidden)

            (status, body) = try await post(client, "/v1/knowledge/npc_profile", player, #"{"npc": "Old Tom"}"#)
            #expect(status == .ok && body["id"] as? String == "npc.old-tom")
            (status, body) = try await post(client, "/v1/knowledge/npc_profile", player, #"{"npc": "Nobody"}"#)
            #expect(status == .notFound && body["code"] as? String == "npc_not_found")
            (status, body) = try await post(client, "/v1/knowledge/session_fetch", player, "{}")
            #expect(((body["episodes"] as? [[String: Any]]) ?? []).map { $0["session"] as? Int } == [1, 2, 3])
            (status, body) = try await post(client, "/v1/knowledge/lore_assert", player, #"{"claim": "Old Tom has a wooden leg"}"#)
            #expect(body["verdict"] as? String == "supported")
            (status, body) = try await post(client, "/v1/knowledge/rules_lookup", player, #"{"query": "house rules"}"#)
            #expect(((body["hits"] as? [[String: Any]]) ?? []).first?["source_id"] as? String == "rules.house-rules")
            (status, body) = try await post(client, "/v1/knowledge/art_suggest", player, #"{"description": "foggy tidal flats with poles"}"#)
            #expect(((body["hits"] as? [[String: Any]]) ?? []).first?["source_id"] as? String == "art.tidal-flats")
        }
    }

    @Test("bad input is a 400 or 422 naming the field")
    func badInput() async throws {
        try await withApp { client, player, _, _ in
            let cases: [(String, String, HTTPResponse.Status, String)] = [
                ("/v1/knowledge/search", #"{"query": ""}"#, .unprocessableContent, "/query"),
                ("/v1/knowledge/search", #"{"query": "\#(String(repeating: "x", count: 1001))"}"#, .unprocessableContent, "/query"),
                ("/v1/knowledge/search", #"{"query": "x", "k": 0}"#, .unprocessableContent, "/k"),
                ("/v1/knowledge/search", #"{"query": "x", "k": 51}"#, .unprocessableContent, "/k"),
                ("/v1/knowledge/search", #"{"query": "x", "domains": ["dragons"]}"#, .unprocessableContent, "/domains/0"),
                ("/v1/knowledge/search", #"{"query": "x", "campaign_id": "bad id!"}"#, .unprocessableContent, "/campaign_id"),
                ("/v1/knowledge/search", #"{"query": "x", "mode": "magic"}"#, .unprocessableContent, "/mode"),
                ("/v1/knowledge/search", #"[1]"#, .unprocessableContent, ""),
                ("/v1/knowledge/session_fetch", #"{"from_session": -1}"#, .unprocessableContent, "/from_session"),
            ]
            for (path, body, expected, pointer) in cases {
                let (status, problem) = try await post(client, path, player, body)
                #expect(status == expected, "\(body)")
                #expect(((problem["errors"] as? [[String: Any]]) ?? []).first?["pointer"] as? String == pointer, "\(body): \(problem)")
            }
            let (status, _) = try await post(client, "/v1/knowledge/search", player, "{nope")
            #expect(status == .badRequest)
        }
    }

    @Test("ingest: gm only, all or nothing, incremental")
    func ingest() async throws {
        try await withApp { client, player, gm, _ in
            let document = #"{"campaign_id": "demo", "documents": [{"id": "npc.wren", "domain": "npc", "title": "Wren the ferryman", "aliases": ["Wren"], "text": "Wren poles the ferry across the Brindle."}]}"#
            var (status, body) = try await post(client, "/v1/knowledge/ingest", player, document)
            #expect(status == .forbidden)
            (status, body) = try await post(client, "/v1/knowledge/ingest", gm, #"{"campaign_id": "demo", "documents": [{"id": "ok", "text": "fine"}, {"id": "bad", "domain": "dragons", "text": "x"}]}"#)
            #expect(status == .unprocessableContent)
            #expect(((body["errors"] as? [[String: Any]]) ?? []).first?["pointer"] as? String == "/documents/1")
            (status, body) = try await post(client, "/v1/knowledge/npc_profile", gm, #"{"npc": "ok"}"#)
            #expect(status == .notFound)
            (status, body) = try await post(client, "/v1/knowledge/ingest", gm, document)
            #expect(status == .ok && body["added"] as? [String] == ["npc.wren"])
            (status, body) = try await post(client, "/v1/knowledge/ingest", gm, document)
            #expect(body["unchanged"] as? [String] == ["npc.wren"])
            (status, body) = try await post(client, "/v1/knowledge/npc_profile", player, #"{"npc": "Wren"}"#)
            #expect(body["id"] as? String == "npc.wren")
            (status, body) = try await post(client, "/v1/knowledge/ingest", gm, #"{"documents": [{"id": "g", "text": "global"}]}"#)
            #expect(status == .forbidden)
        }
    }

    @Test("ingest while the store is down: 503 with Retry-After, nothing kept in memory only; reads still answer")
    func ingestWhileTheStoreIsDown() async throws {
        let store = FailingKnowledgeStore(base: InMemoryKnowledgeStore(dimensions: 256))
        try await withApp(store: store) { client, player, gm, _ in
            store.failing = true
            let document = #"{"campaign_id": "demo", "documents": [{"id": "npc.wren", "domain": "npc", "title": "Wren the ferryman", "aliases": ["Wren"], "text": "Wren poles the ferry across the Brindle."}]}"#
            let (status, headers, body) = try await client.execute(
                uri: "/v1/knowledge/ingest", method: .post, headers: [.authorization: "Bearer \(gm)", .contentType: "application/json"], body: ByteBuffer(string: document)
            ) { response in (response.status, response.headers, try jsonObject(response.body)) }
            #expect(status == .serviceUnavailable)
            #expect(headers[.contentType] == "application/problem+json")
            #expect(headers[.retryAfter] == "15")
            #expect(body["code"] as? String == "knowledge_store_unavailable")
            #expect((body["detail"] as? String)?.contains("Down") == false, "the store's error stays in the log")
            // Reads are answered from the fallback, which did not take the refused document.
            var (readStatus, read) = try await post(client, "/v1/knowledge/npc_profile", player, #"{"npc": "Old Tom"}"#)
            #expect(readStatus == .ok && read["id"] as? String == "npc.old-tom")
            (readStatus, read) = try await post(client, "/v1/knowledge/npc_profile", player, #"{"npc": "Wren"}"#)
            #expect(readStatus == .notFound)
            // Once the store is back, the same request stores it.
            store.failing = false
            let (again, stored) = try await post(client, "/v1/knowledge/ingest", gm, document)
            #expect(again == .ok && stored["added"] as? [String] == ["npc.wren"])
        }
    }
}
