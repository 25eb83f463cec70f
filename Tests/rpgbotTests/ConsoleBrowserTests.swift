import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import TestSupport
import Testing

/// The web console in a real headless Chromium, driven over WebDriver, against a real
/// `rpgbot serve` on the embedded default: a game master's and a player's page in one campaign.
@Suite(.serialized) struct ConsoleBrowserTests {
    static let enabled = ChromeDriver.isAvailable || ProcessInfo.processInfo.environment["RPGBOT_TEST_REQUIRE_ALL"] == "1"
    static let artifacts = GenerationCommandTests.repository.appendingPathComponent(".build/test-artifacts/console")

    /// A running server on a fixed port (so a restart keeps the pages' address) and its tokens.
    struct Server {
        let directory: URL
        let port: Int
        var process: ChildProcess

        var arguments: [String] { Self.arguments(directory: directory, port: port) }

        static func arguments(directory: URL, port: Int) -> [String] {
            ["serve", "--port", String(port), "--data-dir", directory.path,
             "--content-dir", GenerationCommandTests.repository.appendingPathComponent("content/demo").path]
        }

        static func start(in directory: URL) async throws -> Server {
            let port = try freeLoopbackPort()
            let process = try await ChildProcess.rpgbot(arguments(directory: directory, port: port))
            _ = try await process.waitUntilListening()
            return Server(directory: directory, port: port, process: process)
        }

        mutating func restart() async throws {
            #expect(try await process.stop() == 0)
            process = try await ChildProcess.rpgbot(arguments)
            _ = try await process.waitUntilListening()
        }

        /// The sign-in link `rpgbot token --console` prints.
        func link(sub: String, role: String, ttl: String = "1h") async throws -> String {
            let printed = try await ChildProcess.runRPGBot([
                "token", "--sub", sub, "--campaign", "demo", "--role", role, "--ttl", ttl, "--data-dir", directory.path,
                "--console", "--console-url", "http://127.0.0.1:\(port)/",
            ])
            #expect(printed.status == 0, "\(printed.stderr)")
            return printed.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }

        func token(of link: String) -> String {
            String(link.split(separator: "#token=").last ?? "")
        }

        /// Every event of the campaign, from the REST history.
        func events(token: String) async throws -> [[String: Any]] {
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/campaigns/demo/events?after=0&limit=500")
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
            let body = try jsonObject(try await response.body.collect(upTo: 8 << 20))
            return body["events"] as? [[String: Any]] ?? []
        }
    }

    /// The offsets a page shows, in page order.
    static func offsets(_ page: Browser) async throws -> [Int] {
        (try await page.execute("return Array.from(document.querySelectorAll('#feed > li')).map((li) => Number(li.dataset.offset));") as? [Int]) ?? []
    }

    /// The dice of the newest roll on a page: [[rolls], total].
    static func lastRoll(_ page: Browser) async throws -> String {
        try await page.execute("""
            const rolls = document.querySelectorAll('#feed li[data-type="dice.rolled"]');
            const roll = rolls[rolls.length - 1];
            return JSON.stringify([Array.from(roll.querySelectorAll('.die')).map((d) => [d.textContent, d.classList.contains('kept')]), roll.querySelector('.roll-total').textContent]);
            """) as? String ?? ""
    }

    static func severeEntries(_ page: Browser) async throws -> [String] {
        try await page.consoleEntries().filter { ($0["level"] as? String) == "SEVERE" }.map { $0["message"] as? String ?? "" }
    }

    /// Text whose contrast with its background is below WCAG AA (4.5:1), as "text: ratio".
    static func lowContrastText(_ page: Browser) async throws -> [String] {
        try await page.execute("""
            const channel = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
            const parse = (c) => c.match(/[\\d.]+/g).map(Number);
            const luminance = ([r, g, b]) => 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
            const background = (node) => {
              for (let n = node; n; n = n.parentElement) {
                const c = parse(getComputedStyle(n).backgroundColor);
                if (c.length < 4 || c[3] > 0) return c;
              }
              return [255, 255, 255];
            };
            const failures = [];
            for (const node of document.querySelectorAll('body *')) {
              const own = Array.from(node.childNodes).some((c) => c.nodeType === 3 && c.textContent.trim());
              if (!own || !node.checkVisibility()) continue;
              const [a, b] = [luminance(parse(getComputedStyle(node).color)), luminance(background(node))];
              const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
              if (ratio < 4.5) failures.push(node.textContent.trim().slice(0, 40) + ': ' + ratio.toFixed(2));
            }
            return failures;
            """) as? [String] ?? ["the check did not run"]
    }

    static func save(_ page: Browser, as name: String) async throws {
        try FileManager.default.createDirectory(at: artifacts, withIntermediateDirectories: true)
        try await page.screenshot().write(to: artifacts.appendingPathComponent(name))
    }

    @Test(.enabled(if: enabled, "needs chromium and chromium-driver"), .timeLimit(.minutes(5)))
    func aGameMasterAndAPlayerPlayOneCampaign() async throws {
        for stale in ["gm-failed.png", "player-failed.png"] { try? FileManager.default.removeItem(at: Self.artifacts.appendingPathComponent(stale)) }
        try await withTemporaryDirectory { directory in
            var server = try await Server.start(in: directory.url)
            let driver = try await ChromeDriver.start()
            let gm = try await driver.openBrowser(width: 1400, height: 1000)
            let player = try await driver.openBrowser(width: 412, height: 915)  // a phone
            do {
                let gmLink = try await server.link(sub: "morgan", role: "gm")
                let playerLink = try await server.link(sub: "ann", role: "player")
                #expect(gmLink.hasPrefix("http://127.0.0.1:\(server.port)/console/#token=ey"))
                try await gm.navigate(to: gmLink)
                try await player.navigate(to: playerLink)
                for page in [gm, player] {
                    try await page.waitFor(#"#connection[data-state="live"]"#)
                    // The token left the address bar; it lives in the tab's session storage.
                    #expect(try await page.execute("return location.hash") as? String == "")
                }
                #expect(try await gm.text(of: "#identity")?.contains("morgan · gm · campaign demo") == true)
                #expect(try await player.find("#gm-panel:not([hidden])") == nil)

                // Presence: each sees the other.
                try await gm.waitFor(#"#presence li[data-user="ann"]"#)
                try await player.waitFor(#"#presence li[data-user="morgan"]"#)
                #expect(try await gm.text(of: #"#presence li[data-user="ann"]"#) == "ann player · 1 connection")

                // The player's chat appears on the game master's page.
                try await player.type("Is anyone at the ferry?", into: "#chat-input")
                try await player.click("#chat-form button[type=submit]")
                try await gm.waitUntil("the chat on the gm's page", """
                    return Array.from(document.querySelectorAll('#feed li[data-type="chat.say"]')).some((li) => li.textContent.includes('Is anyone at the ferry?') && li.querySelector('.actor').textContent === 'ann');
                    """)

                // A roll shows the same dice on both pages, and they are the server's.
                try await player.type("4d6dl1", into: "#dice-input")
                try await player.type("ability score", into: "#dice-label")
                try await player.click("#dice-form button[type=submit]")
                for page in [gm, player] { try await page.waitFor(#"#feed li[data-type="dice.rolled"] .roll-total"#) }
                let shown = try await Self.lastRoll(player)
                #expect(shown == (try await Self.lastRoll(gm)))
                let stored = try #require(try await server.events(token: server.token(of: gmLink)).last { $0["type"] as? String == "dice.rolled" })
                let payload = try #require(stored["payload"] as? [String: Any])
                let group = try #require((payload["dice"] as? [[String: Any]])?.first)
                let rolls = try #require(group["rolls"] as? [Int])
                let kept = Set(try #require(group["kept"] as? [Int]))
                let expected = try String(decoding: JSONSerialization.data(withJSONObject: [
                    rolls.enumerated().map { [String($0.element), kept.contains($0.offset)] as [Any] }, String(payload["total"] as? Int ?? -1),
                ] as [Any]), as: UTF8.self)
                #expect(shown == expected)
                #expect(rolls.count == 4 && kept.count == 3)

                // A roll the server refuses is shown to the person.
                try await player.type("1d1", into: "#dice-input")
                try await player.click("#dice-form button[type=submit]")
                try await player.waitFor(".notice-invalid_dice")

                // The game master generates a scene with broadcast; the player's page shows it.
                try await gm.type("we enter the tavern and look for the ferryman", into: "#generate-form input[name=intent]")
                try await gm.click("#generate-form button[type=submit]")
                try await gm.waitFor(".generate-result .output-scene")
                try await player.waitFor(#"#feed li[data-type="gm.scene"] .choices li"#)
                let narration = try await gm.text(of: ".generate-result .narration")
                #expect(narration?.isEmpty == false)
                #expect(try await player.text(of: #"#feed li[data-type="gm.scene"] .narration"#) == narration)
                let gmChoices = try await gm.execute("return Array.from(document.querySelectorAll('.generate-result .choices li')).map((li) => li.dataset.choice)") as? [String]
                let playerChoices = try await player.execute(#"return Array.from(document.querySelectorAll('#feed li[data-type="gm.scene"] .choices li')).map((li) => li.dataset.choice)"#) as? [String]
                #expect(gmChoices == playerChoices && (gmChoices?.count ?? 0) >= 2)
                // A citation opens the knowledge item's title and snippet.
                try await gm.click(".generate-result button.citation")
                let citation = try await gm.text(of: ".generate-result .citation-detail")
                #expect((citation?.count ?? 0) > 20, "\(citation ?? "")")

                // The other three generations, broadcast, as the player sees them.
                for (endpoint, selector) in [("combat", ".actions li"), ("social", ".lines li"), ("epilogue", ".summary")] {
                    try await gm.click(#"#generate-form input[name=endpoint][value="\#(endpoint)"]"#)
                    try await gm.waitFor(#"#generate-form input[name=intent]"#, visible: endpoint != "epilogue")
                    if endpoint == "combat" {
                        try await gm.type("Ann, party, 12\nBog wight, enemy, 22", into: "#generate-form textarea[name=combatants]")
                    }
                    try await gm.click("#generate-form button[type=submit]")
                    try await gm.waitFor(".generate-result .output-\(endpoint)")
                    try await player.waitFor(#"#feed li[data-type="gm.\#(endpoint)"] \#(selector)"#)
                }
                try await gm.click(#"#generate-form input[name=endpoint][value="scene"]"#)

                // Sending faster than the server takes: refused publishes are shown, then sent
                // again under their cmid until stored, each once.
                // Notices go after 8 s, so the test records each one as it appears.
                try await player.execute("""
                    window.seenNotices = [];
                    new MutationObserver((changes) => changes.forEach((c) => c.addedNodes.forEach((n) => window.seenNotices.push(n.className))))
                      .observe(document.getElementById('notices'), { childList: true });
                    const input = document.getElementById('chat-input');
                    const form = document.getElementById('chat-form');
                    for (let i = 0; i < 60; i++) { input.value = 'burst ' + i; form.requestSubmit(); }
                    """)
                try await player.waitUntil("a rate-limit notice", "return window.seenNotices.some((c) => c.includes('notice-rate_limited'))")
                try await gm.waitUntil("all 60 burst messages", timeout: .seconds(30), """
                    return Array.from(document.querySelectorAll('#feed li[data-type="chat.say"] .chat')).filter((p) => p.textContent.startsWith('burst ')).length >= 60;
                    """)
                let burst = try await gm.execute(#"return Array.from(document.querySelectorAll('#feed li[data-type="chat.say"] .chat')).map((p) => p.textContent).filter((t) => t.startsWith('burst '))"#) as? [String] ?? []
                #expect(burst.count == 60 && Set(burst).count == 60)

                // Knowledge search shows domain, title, snippet and why it matched.
                try await gm.type("who runs the tavern", into: "#search-input")
                try await gm.click("#search-form button[type=submit]")
                try await gm.waitFor("#search-results li.hit .why")

                // Narration: a speech job whose audio plays on the player's page.
                try await gm.click(".generate-result button.narrate")
                try await player.waitFor(#"#feed li[data-status="succeeded"] audio.media-audio[src^="blob:"]"#, timeout: .seconds(60))
                // The page plays a blob: of the artifact it fetched with its token (an <audio> cannot
                // send one); the artifact it names answers 200 with audio, and the element decoded it.
                let artifact = try #require(try await player.execute("return document.querySelector('audio.media-audio').dataset.artifact") as? String)
                var request = HTTPClientRequest(url: "http://127.0.0.1:\(server.port)\(artifact)")
                request.headers.add(name: "Authorization", value: "Bearer \(server.token(of: playerLink))")
                let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
                #expect(response.status.code == 200 && response.headers.first(name: "Content-Type") == "audio/ogg")
                let bytes = try await response.body.collect(upTo: 16 << 20)
                #expect(bytes.readableBytesView.starts(with: Array("OggS".utf8)))
                try await player.waitUntil("the audio to load", "const a = document.querySelector('audio.media-audio'); return a.readyState >= 1 && a.duration > 0.5")

                // Nothing went wrong in either page so far.
                for page in [gm, player] {
                    let severe = try await Self.severeEntries(page)
                    #expect(severe == [], "\(severe)")
                }

                // A restart: both pages reconnect by themselves and resume with no gap and no duplicate.
                let before = try await Self.offsets(gm)
                try await server.restart()
                let token = server.token(of: gmLink)
                for page in [gm, player] { try await page.waitFor(#"#connection[data-state="live"]"#, timeout: .seconds(30)) }
                // From the keyboard: Enter in the chat box sends.
                try await gm.type("The fog lifts.\u{E007}", into: "#chat-input")
                let all = try await server.events(token: token).compactMap { $0["offset"] as? Int }
                let last = try #require(all.last)
                for page in [gm, player] {
                    try await page.waitFor(#"#feed li[data-offset="\#(last)"]"#)
                    let offsets = try await Self.offsets(page)
                    // Media updates share one entry per job; every other event is shown once, in order.
                    #expect(offsets == offsets.sorted() && Set(offsets).count == offsets.count)
                    #expect(Set(offsets).isSubset(of: Set(all)) && offsets.last == last)
                }
                #expect(Array(try await Self.offsets(gm).prefix(before.count)) == before)
                // Only the browser's own reports of the connections refused while the server was down.
                for page in [gm, player] {
                    let unexpected = try await Self.severeEntries(page).filter { !$0.contains("WebSocket connection to") && !$0.contains("ERR_CONNECTION_REFUSED") }
                    #expect(unexpected == [])
                }

                try await Self.save(gm, as: "gm.png")
                try await Self.save(player, as: "player.png")

                // Readable contrast everywhere on both pages.
                for page in [gm, player] {
                    let low = try await Self.lowContrastText(page)
                    #expect(low == [], "\(low)")
                }

                // At phone width nothing needs sideways scrolling.
                #expect(try await player.execute("return document.documentElement.scrollWidth <= window.innerWidth") as? Bool == true)

                // A late player gets the history on entry. Their token expires soon, which
                // brings the sign-in prompt back.
                try await player.navigate(to: try await server.link(sub: "bo", role: "player", ttl: "4s"))
                try await player.waitFor(#"#connection[data-state="live"]"#)
                try await player.waitFor(#"#feed li[data-offset="\#(last)"]"#)
                // The newest 50 first; the rest page by page.
                let firstPage = try await Self.offsets(player)
                #expect((firstPage.first ?? 0) > 1)
                #expect(try await player.find("#load-older:not([hidden])") != nil)
                for _ in 0..<10 where try await player.find("#load-older:not([hidden])") != nil {
                    let shown = try await Self.offsets(player).count
                    try await player.click("#load-older")
                    try await player.waitUntil("an older page", "return document.querySelectorAll('#feed > li').length > arguments[0] || document.getElementById('load-older').hidden", [shown])
                }
                let history = try await Self.offsets(player)
                #expect(history.first == 1 && history == history.sorted() && Set(history).count == history.count)
                try await gm.waitFor(#"#presence li[data-user="bo"]"#)
                try await player.waitFor("#sign-in", timeout: .seconds(10))
                #expect(try await player.text(of: "#sign-in-reason")?.contains("expired") == true)
                #expect(try await player.find("#campaign-view:not([hidden])") == nil)
                try await Self.save(player, as: "sign-in.png")
            } catch {
                try? await Self.save(gm, as: "gm-failed.png")
                try? await Self.save(player, as: "player-failed.png")
                await gm.close()
                await player.close()
                await driver.stop()
                _ = try? await server.process.stop()
                throw error
            }
            await gm.close()
            await player.close()
            await driver.stop()
            #expect(try await server.process.stop() == 0)
        }
    }

    static let firefoxEnabled = FirefoxBiDi.executable != nil || ProcessInfo.processInfo.environment["RPGBOT_TEST_REQUIRE_ALL"] == "1"

    /// The player's side in Firefox at phone width, driven over WebDriver BiDi: entry with
    /// history, live events from the game master, chat from the page, no console errors.
    @Test(.enabled(if: firefoxEnabled, "needs firefox-esr"), .timeLimit(.minutes(3)))
    func aPlayerPlaysInFirefox() async throws {
        try await withTemporaryDirectory { directory in
            let server = try await Server.start(in: directory.url)
            let firefox = try await FirefoxBiDi.start()
            do {
                let gmToken = server.token(of: try await server.link(sub: "morgan", role: "gm"))
                var request = HTTPClientRequest(url: "http://127.0.0.1:\(server.port)/v1/campaigns/demo/events")
                request.method = .POST
                request.headers.add(name: "Authorization", value: "Bearer \(gmToken)")
                request.headers.add(name: "Content-Type", value: "application/json")
                request.body = .bytes(ByteBuffer(string: #"{"type": "chat.say", "payload": {"text": "Welcome to Brindlewick."}}"#))
                #expect(try await HTTPClient.shared.execute(request, timeout: .seconds(10)).status == .created)

                try await firefox.setViewport(width: 412, height: 915)
                try await firefox.navigate(to: try await server.link(sub: "ann", role: "player"))
                try await firefox.waitUntil("the live state", "document.getElementById('connection').dataset.state === 'live'")
                #expect(try await firefox.evaluate("location.hash") as? String == "")
                // History on entry, then a live roll from the game master.
                try await firefox.waitUntil("the history", "document.querySelector('#feed li[data-offset=\"1\"]')?.textContent.includes('Welcome to Brindlewick.') === true")
                request.body = .bytes(ByteBuffer(string: #"{"type": "dice.roll", "payload": {"expression": "2d20kh1+5"}}"#))
                #expect(try await HTTPClient.shared.execute(request, timeout: .seconds(10)).status == .created)
                try await firefox.waitUntil("the roll", "document.querySelectorAll('#feed li[data-type=\"dice.rolled\"] .die').length === 2")
                // Chat from the page.
                _ = try await firefox.evaluate("document.getElementById('chat-input').value = 'Hello from Firefox'; document.getElementById('chat-form').requestSubmit(); true")
                try await firefox.waitUntil("the chat to come back", "Array.from(document.querySelectorAll('#feed .chat')).some((p) => p.textContent === 'Hello from Firefox')")
                let stored = try await server.events(token: gmToken)
                #expect(stored.contains { ($0["payload"] as? [String: Any])?["text"] as? String == "Hello from Firefox" && $0["actor"] as? String == "ann" })
                #expect(try await firefox.evaluate("document.documentElement.scrollWidth <= window.innerWidth") as? Bool == true)
                let errors = firefox.logEntries.filter { $0["level"] as? String == "error" }.map { $0["text"] as? String ?? "" }
                #expect(errors == [], "\(errors)")
                try FileManager.default.createDirectory(at: Self.artifacts, withIntermediateDirectories: true)
                try await firefox.screenshot().write(to: Self.artifacts.appendingPathComponent("firefox-player.png"))
            } catch {
                await firefox.stop()
                _ = try? await server.process.stop()
                throw error
            }
            await firefox.stop()
            #expect(try await server.process.stop() == 0)
        }
    }
}
