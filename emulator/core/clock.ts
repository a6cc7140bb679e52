/**
 * Emulated time for the whole emulator: a wall clock that runs `speed` times faster than real time.
 *
 * Service-protection windows, map transitions and initial-sync jobs read this clock, so a test can
 * make a 5-minute window pass in three seconds (speed 100) instead of sleeping. Emulated time is
 * continuous: changing the speed re-anchors the clock at the current emulated instant, and pending
 * `sleep` calls are rescheduled against the new speed.
 */
import { performance } from "node:perf_hooks";
import type { Clock } from "./context";

/** A `sleep` waiting for its emulated instant. */
interface Sleeper {
  readonly wakeAt: number;
  readonly resolve: () => void;
  timer: NodeJS.Timeout | undefined;
}

/** The emulator's `Clock`: scaled wall-clock time with re-schedulable sleeps. */
export class ScaledClock implements Clock {
  private anchorEmulated: number;
  private anchorReal: number;
  private currentSpeed: number;
  private readonly sleepers = new Set<Sleeper>();

  /**
   * @param speed emulated milliseconds per real millisecond. @default 1
   * @param start emulated epoch milliseconds to start from. @default Date.now()
   */
  constructor(speed = 1, start = Date.now()) {
    assertSpeed(speed);
    this.currentSpeed = speed;
    this.anchorEmulated = start;
    this.anchorReal = performance.now();
  }

  /** Emulated milliseconds since the epoch. */
  now(): number {
    return Math.floor(
      this.anchorEmulated + (performance.now() - this.anchorReal) * this.currentSpeed,
    );
  }

  /** How many emulated milliseconds pass per real millisecond. */
  get speed(): number {
    return this.currentSpeed;
  }

  /** Changes the speed from now on; emulated time stays continuous and sleepers are rescheduled. */
  setSpeed(speed: number): void {
    assertSpeed(speed);
    this.reanchor(this.now());
    this.currentSpeed = speed;
    this.rescheduleAll();
  }

  /**
   * Jumps emulated time forward by `ms` (never backward) and wakes every sleeper whose instant
   * has passed. Lets a test skip a long wait without changing the speed.
   */
  advance(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) {
      throw new RangeError(
        `Clock advance must be a non-negative number of milliseconds, got ${ms}.`,
      );
    }
    this.reanchor(this.now() + ms);
    this.rescheduleAll();
  }

  /** Resolves after `emulatedMs` of emulated time. */
  sleep(emulatedMs: number): Promise<void> {
    const wakeAt = this.now() + Math.max(0, emulatedMs);
    return new Promise((resolve) => {
      const sleeper: Sleeper = { wakeAt, resolve, timer: undefined };
      this.sleepers.add(sleeper);
      this.schedule(sleeper);
    });
  }

  /**
   * Cancels every pending timer. Pending `sleep` promises never resolve afterwards, so background
   * work of a closed emulator stops instead of writing into a store nobody serves.
   */
  dispose(): void {
    for (const s of this.sleepers) clearTimeout(s.timer);
    this.sleepers.clear();
  }

  private reanchor(emulatedNow: number): void {
    this.anchorEmulated = emulatedNow;
    this.anchorReal = performance.now();
  }

  private rescheduleAll(): void {
    for (const s of this.sleepers) {
      clearTimeout(s.timer);
      this.schedule(s);
    }
  }

  private schedule(sleeper: Sleeper): void {
    const remaining = sleeper.wakeAt - this.now();
    if (remaining <= 0) {
      this.sleepers.delete(sleeper);
      sleeper.resolve();
      return;
    }
    // Round up so a sleeper never wakes a fraction of a millisecond early and loops.
    const realMs = Math.ceil(remaining / this.currentSpeed);
    sleeper.timer = setTimeout(() => this.schedule(sleeper), realMs);
    // Timers must not keep a process alive on their own: the server does that while it runs.
    sleeper.timer.unref();
  }
}

function assertSpeed(speed: number): void {
  if (!Number.isFinite(speed) || speed <= 0) {
    throw new RangeError(`Clock speed must be a positive number, got ${speed}.`);
  }
}
