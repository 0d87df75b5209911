// A client as a user of the app is one: a request every `intervalMs` (20 ms: about 50 a second), each on a
// connection of its own and never waiting for the one before, so a deploy that stops answering shows as failed
// requests and as a gap, not as a client that slowed down with the server.
import * as http from "http";

export interface TrafficReport {
    sent: number;
    answered: number;
    failed: number;
    /** Failed requests by reason: `HTTP 502`, `ECONNREFUSED`, `timeout`, … */
    failures: Record<string, number>;
    /** The longest time without a successful answer, from the start to the stop of the traffic. */
    longestGapMs: number;
}

export interface Traffic {
    /** Waits for the requests in flight, then reports. */
    stop(): Promise<TrafficReport>;
}

export function startTraffic(url: string, options: { intervalMs?: number; timeoutMs?: number; hostHeader?: string } = {}): Traffic {
    const intervalMs = options.intervalMs ?? 20;
    const timeoutMs = options.timeoutMs ?? 2000;
    const start = performance.now();
    const answeredAt: number[] = [];
    const failures: Record<string, number> = {};
    const inFlight = new Set<Promise<void>>();
    let sent = 0;

    const fail = (reason: string) => {
        failures[reason] = (failures[reason] ?? 0) + 1;
    };
    const send = () => {
        sent += 1;
        const request = new Promise<void>((resolve) => {
            const req = http.get(url, { agent: false, timeout: timeoutMs, headers: options.hostHeader ? { host: options.hostHeader } : {} }, (res) => {
                res.resume();
                res.once("end", () => {
                    if (res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300) {
                        answeredAt.push(performance.now());
                    } else {
                        fail(`HTTP ${res.statusCode}`);
                    }
                    resolve();
                });
                res.once("error", (error: NodeJS.ErrnoException) => {
                    fail(error.code ?? error.message);
                    resolve();
                });
            });
            req.once("timeout", () => req.destroy(Object.assign(new Error("timeout"), { code: "timeout" })));
            req.once("error", (error: NodeJS.ErrnoException) => {
                fail(error.code ?? error.message);
                resolve();
            });
        });
        inFlight.add(request);
        void request.then(() => inFlight.delete(request));
    };
    // Paced by the clock, not by the timer alone: on a busy machine a timer fires late, and the requests due by
    // then are all sent, so the client keeps its rate whatever the load.
    const due = () => Math.floor((performance.now() - start) / intervalMs) + 1;
    const timer = setInterval(() => {
        for (let pending = due() - sent; pending > 0; pending--) {
            send();
        }
    }, intervalMs / 2);
    send();

    return {
        stop: async () => {
            clearInterval(timer);
            const end = performance.now();
            await Promise.all([...inFlight]);
            const times = [start, ...answeredAt.filter((at) => at <= end).sort((a, b) => a - b), end];
            let longestGapMs = 0;
            for (let i = 1; i < times.length; i++) {
                longestGapMs = Math.max(longestGapMs, times[i] - times[i - 1]);
            }
            const failed = Object.values(failures).reduce((sum, count) => sum + count, 0);
            return { sent, answered: answeredAt.length, failed, failures, longestGapMs };
        },
    };
}
