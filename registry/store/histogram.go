package store

import (
	"math"
	"sort"
	"time"
)

// HistogramBuckets is the number of buckets of a [Histogram].
const HistogramBuckets = 32

// Histogram counts latencies in log-scale buckets: five per decade from
// 100µs to 100s, each 1.58 times as wide as the one before, plus one bucket
// below 100µs and one from 100s up. The resolution is thus one bucket:
// [Histogram.Quantile] interpolates within the bucket that holds the true
// quantile, so between 100µs and 100s its estimate is within a factor of
// 1.58 of the truth.
type Histogram struct {
	// Buckets[0] counts latencies under 100µs, Buckets[i] those from
	// 100µs·10^((i-1)/5) up to 100µs·10^(i/5), Buckets[31] those of 100s
	// and more.
	Buckets [HistogramBuckets]int64 `json:"buckets"`
}

// bucketBounds[i] is the upper bound of Buckets[i], and the lower bound of
// Buckets[i+1].
var bucketBounds = func() (b [HistogramBuckets - 1]time.Duration) {
	for i := range b {
		b[i] = time.Duration(math.Round(float64(100*time.Microsecond) * math.Pow(10, float64(i)/5)))
	}
	return b
}()

// latencyBucket returns the index of the bucket that counts d.
func latencyBucket(d time.Duration) int {
	return sort.Search(len(bucketBounds), func(i int) bool { return d < bucketBounds[i] })
}

func (h *Histogram) observe(d time.Duration) { h.Buckets[latencyBucket(d)]++ }

func (h *Histogram) merge(o Histogram) {
	for i, n := range o.Buckets {
		h.Buckets[i] += n
	}
}

// Count returns the number of latencies counted.
func (h Histogram) Count() int64 {
	var n int64
	for _, c := range h.Buckets {
		n += c
	}
	return n
}

// Quantile estimates the latency below which a fraction q of the counted
// latencies lie, e.g. q = 0.99 for p99. It returns 0 for an empty
// histogram, and 100s for latencies of 100s or more.
func (h Histogram) Quantile(q float64) time.Duration {
	total := h.Count()
	if total == 0 {
		return 0
	}
	rank := min(max(q, 0), 1) * float64(total)
	var below int64
	for i, n := range h.Buckets {
		if n == 0 || float64(below+n) < rank {
			below += n
			continue
		}
		return withinBucket(i, (rank-float64(below))/float64(n))
	}
	return bucketBounds[len(bucketBounds)-1] // rank == total, rounding
}

// withinBucket returns the latency a fraction f into bucket i: linearly in
// the first bucket, geometrically in the others.
func withinBucket(i int, f float64) time.Duration {
	switch {
	case i == 0:
		return time.Duration(f * float64(bucketBounds[0]))
	case i == len(bucketBounds):
		return bucketBounds[i-1]
	}
	lo, hi := float64(bucketBounds[i-1]), float64(bucketBounds[i])
	return time.Duration(lo * math.Pow(hi/lo, f))
}
