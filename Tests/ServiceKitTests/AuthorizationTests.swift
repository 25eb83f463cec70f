import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import ServiceKit
import Synchronization
import TestSupport
import Testing

@Suite struct AuthorizationTests {
    static let secret = Array("test-secret-test-secret-test-secret!".utf8)

    struct Whoami: ResponseEncodable {
        let sub: String
        let role: String
    }

    static func app(authority: TokenAuthority, limiter: TokenBucketRateLimiter? = nil) -> some ApplicationProtocol {
        let router = Router(context: AppRequestContext.self)
        let catalog = RouteCatalog()
        router.add(middleware: ProblemMiddleware(catalog: catalog))
        let routes = CatalogedRouter(router: router, catalog: catalog)
        let campaign = routes.group("campaigns/{campaign_id}")
            .add(middleware: AuthorizationMiddleware(authority: authority, roles: [.gm, .player], campaignParameter: "campaign_id"))
        campaign.get("whoami") { _, context in
            let identity = try context.requireIdentity()
            return Whoami(sub: identity.subject, role: identity.role.rawValue)
        }
        routes.group("admin")
            .add(middleware: AuthorizationMiddleware(authority: authority, roles: [.service]))
            .get("ping") { _, _ in "pong" }
        if let limiter {
            routes.group("limited")
                .add(middleware: RateLimitMiddleware(limiter: limiter) { request, _ in request.headers[.authorization] ?? "anonymous" })
                .get("") { _, _ in "ok" }
        }
        return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
    }

    @Test func validTokenReachesTheRoute() async throws {
        let authority = await TokenAuthority(secret: Self.secret)
        let token = try await authority.issue(subject: "alice", campaign: "demo", role: .gm, ttl: 600)
        try await Self.app(authority: authority).test(.live) { client in
            try await client.execute(uri: "/campaigns/demo/whoami", method: .get, headers: [.authorization: "Bearer \(token)"]) { response in
                #expect(response.status == .ok)
                let body = try jsonObject(response.body)
                #expect(body["sub"] as? String == "alice")
                #expect(body["role"] as? String == "gm")
            }
        }
    }

    @Test func missingTokenIs401WithChallenge() async throws {
        let authority = await TokenAuthority(secret: Self.secret)
        try await Self.app(authority: authority).test(.live) { client in
            try await client.execute(uri: "/campaigns/demo/whoami", method: .get) { response in
                #expect(response.status == .unauthorized)
                #expect(response.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true)
                let code = try problem(response)["code"] as? String
                #expect(code == "unauthenticated")
            }
            try await client.execute(uri: "/campaigns/demo/whoami", method: .get, headers: [.authorization: "Basic abc"]) { response in
                #expect(response.status == .unauthorized)
            }
        }
    }

    @Test func expiredTokenIs401TokenExpired() async throws {
        let clock = Mutex<Date>(Date().addingTimeInterval(-7200))
        let issuer = await TokenAuthority(secret: Self.secret, now: { clock.withLock { $0 } })
        let token = try await issuer.issue(subject: "alice", campaign: "demo", role: .gm, ttl: 60)
        let authority = await TokenAuthority(secret: Self.secret)
        try await Self.app(authority: authority).test(.live) { client in
            try await client.execute(uri: "/campaigns/demo/whoami", method: .get, headers: [.authorization: "Bearer \(token)"]) { response in
                #expect(response.status == .unauthorized)
                let code = try problem(response)["code"] as? String
                #expect(code == "token_expired")
            }
        }
    }

    @Test func badSignatureIs401TokenInvalid() async throws {
        let forger = await TokenAuthority(secret: Array("some-other-secret-some-other-secret".utf8))
        let token = try await forger.issue(subject: "mallory", campaign: "demo", role: .gm, ttl: 600)
        let authority = await TokenAuthority(secret: Self.secret)
        try await Self.app(authority: authority).test(.live) { client in
            try await client.execute(uri: "/campaigns/demo/whoami", method: .get, headers: [.authorization: "Bearer \(token)"]) { response in
                #expect(response.status == .unauthorized)
                let code = try problem(response)["code"] as? String
                #expect(code == "token_invalid")
            }
        }
    }

    @Test func wrongCampaignIs403() async throws {
        let authority = await TokenAuthority(secret: Self.secret)
        let token = try await authority.issue(subject: "alice", campaign: "demo", role: .player, ttl: 600)
        let everywhere = try await authority.issue(subject: "ops", campaign: "*", role: .gm, ttl: 600)
        try await Self.app(authority: authority).test(.live) { client in
            try await client.execute(uri: "/campaigns/other/whoami", method: .get, headers: [.authorization: "Bearer \(token)"]) { response in
                #expect(response.status == .forbidden)
                let code = try problem(response)["code"] as? String
                #expect(code == "forbidden_campaign")
            }
            try await client.execute(uri: "/campaigns/other/whoami", method: .get, headers: [.authorization: "Bearer \(everywhere)"]) { response in
                #expect(response.status == .ok)
            }
        }
    }

    @Test func wrongRoleIs403() async throws {
        let authority = await TokenAuthority(secret: Self.secret)
        let gm = try await authority.issue(subject: "alice", campaign: "*", role: .gm, ttl: 600)
        let service = try await authority.issue(subject: "indexer", campaign: "*", role: .service, ttl: 600)
        try await Self.app(authority: authority).test(.live) { client in
            try await client.execute(uri: "/admin/ping", method: .get, headers: [.authorization: "Bearer \(gm)"]) { response in
                #expect(response.status == .forbidden)
                let code = try problem(response)["code"] as? String
                #expect(code == "forbidden_role")
            }
            try await client.execute(uri: "/admin/ping", method: .get, headers: [.authorization: "Bearer \(service)"]) { response in
                #expect(response.status == .ok)
            }
        }
    }

    @Test func rateLimitedRequestsGet429WithRetryAfter() async throws {
        let authority = await TokenAuthority(secret: Self.secret)
        let limiter = TokenBucketRateLimiter(policy: .init(burst: 2, refillPerSecond: 0.01))
        try await Self.app(authority: authority, limiter: limiter).test(.live) { client in
            for _ in 0..<2 {
                try await client.execute(uri: "/limited", method: .get, headers: [.authorization: "k1"]) { response in
                    #expect(response.status == .ok)
                }
            }
            try await client.execute(uri: "/limited", method: .get, headers: [.authorization: "k1"]) { response in
                #expect(response.status == .tooManyRequests)
                let body = try problem(response)
                #expect(body["code"] as? String == "rate_limited")
                #expect((body["retry_after_ms"] as? Int ?? 0) > 0)
                #expect(Int(response.headers[.retryAfter] ?? "") ?? 0 >= 1)
            }
            // Another key is unaffected.
            try await client.execute(uri: "/limited", method: .get, headers: [.authorization: "k2"]) { response in
                #expect(response.status == .ok)
            }
        }
    }
}
