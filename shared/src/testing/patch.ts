/** Tests' prototype patches: a method replaced for one test and put back after it. */

/** Replaces methods for one test; `restoreAll()` (in afterEach) puts every one back, last first. */
export function prototypePatcher(): {
  patch<T extends object, K extends keyof T>(proto: T, name: K, impl: T[K]): void;
  restoreLast(): void;
  restoreAll(): void;
} {
  const restore: (() => void)[] = [];
  return {
    patch(proto, name, impl) {
      const orig = proto[name];
      proto[name] = impl;
      restore.push(() => (proto[name] = orig));
    },
    restoreLast() {
      restore.pop()?.();
    },
    restoreAll() {
      while (restore.length) restore.pop()!();
    },
  };
}
