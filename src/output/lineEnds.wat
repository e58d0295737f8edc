;; The `\n` scan of LineDecoder's common case, 16 bytes per step (SIMD128).
;; Assembled into src/output/lineEndsWasm.ts by `node scripts/wasm.ts`; a unit test
;; checks the two agree (test/unit/output/lineEndsWasm.test.ts).
;;
;; Memory (page 0 and 1): the resume point at 0, the line ends at 64 (2048 × i32),
;; the chunk's bytes from 16384 to 16 bytes before the end (16-byte loads may read
;; past the last byte; those lanes are masked off).
(module
  (memory (export "memory") 2)

  ;; lines(p, end, limit, cap, bias): the lines of memory[p, end) that end there within
  ;; `limit` bytes (the `\n` excluded), from the line starting at p. Writes each end
  ;; (the address one past its `\n`, plus `bias`) as an i32 from 64 on, `cap` at most.
  ;; Stops at the first line found longer than `limit` (or as soon as one must be).
  ;; Returns how many ends it wrote; stores at 0 the address where the first line it
  ;; did not take starts.
  (func (export "lines") (param $p i32) (param $end i32) (param $limit i32) (param $cap i32) (param $bias i32) (result i32)
    (local $start i32) (local $k i32) (local $m i32) (local $pos i32) (local $out i32) (local $outEnd i32) (local $lf v128)
    (local.set $start (local.get $p))
    (local.set $k (local.get $p))
    (local.set $out (i32.const 64))
    (local.set $outEnd (i32.add (i32.const 64) (i32.shl (local.get $cap) (i32.const 2))))
    (local.set $lf (i8x16.splat (i32.const 10)))
    (block $done
      (loop $blocks
        (br_if $done (i32.ge_u (local.get $k) (local.get $end)))
        ;; Bit b of m: byte k + b is `\n`.
        (local.set $m (i8x16.bitmask (i8x16.eq (v128.load (local.get $k)) (local.get $lf))))
        (if (i32.lt_u (i32.sub (local.get $end) (local.get $k)) (i32.const 16))
          (then
            (local.set $m (i32.and (local.get $m)
              (i32.sub (i32.shl (i32.const 1) (i32.sub (local.get $end) (local.get $k))) (i32.const 1))))))
        (block $noBits
          (loop $bits
            (br_if $noBits (i32.eqz (local.get $m)))
            (local.set $pos (i32.add (local.get $k) (i32.ctz (local.get $m))))
            (br_if $done (i32.gt_u (i32.sub (local.get $pos) (local.get $start)) (local.get $limit)))
            (br_if $done (i32.eq (local.get $out) (local.get $outEnd)))
            (local.set $start (i32.add (local.get $pos) (i32.const 1)))
            (i32.store (local.get $out) (i32.add (local.get $start) (local.get $bias)))
            (local.set $out (i32.add (local.get $out) (i32.const 4)))
            (local.set $m (i32.and (local.get $m) (i32.sub (local.get $m) (i32.const 1))))
            (br $bits)))
        (local.set $k (i32.add (local.get $k) (i32.const 16)))
        ;; No `\n` in [start, k): the line at start is longer than limit.
        (br_if $done (i32.gt_u (i32.sub (local.get $k) (local.get $start)) (local.get $limit)))
        (br $blocks)))
    (i32.store (i32.const 0) (local.get $start))
    (i32.shr_u (i32.sub (local.get $out) (i32.const 64)) (i32.const 2))))
