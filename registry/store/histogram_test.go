package store

import (
	"testing"
	"time"
)

func TestHistogramBucket(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want int
	}{
		{0, 0},
		{99 * time.Microsecond, 0},
		{100 * time.Microsecond, 1},
		{158 * time.Microsecond, 1},
		{159 * time.Microsecond, 2},
		{time.Millisecond, 6},
		{time.Second, 21},
		{99 * time.Second, 30},
		{100 * time.Second, 31},
		{time.Hour, 31},
	}
	for _, tt := range tests {
		if got := latencyBucket(tt.d); got != tt.want {
			t.Errorf("latencyBucket(%v) = %d, want %d", tt.d, got, tt.want)
		}
	}
}

func TestHistogramQuantile(t *testing.T) {
	const ms = time.Millisecond
	tests := []struct {
		name    string
		samples map[time.Duration]int // latency: count
		q       float64
		want    time.Duration
	}{
		{"empty", nil, 0.5, 0},
		{"constant p50", map[time.Duration]int{10 * ms: 100}, 0.5, 10 * ms},
		{"constant p99", map[time.Duration]int{10 * ms: 100}, 0.99, 10 * ms},
		{"bimodal p50", map[time.Duration]int{ms: 90, time.Second: 10}, 0.5, ms},
		{"bimodal p95", map[time.Duration]int{ms: 90, time.Second: 10}, 0.95, time.Second},
		{"bimodal p99", map[time.Duration]int{ms: 90, time.Second: 10}, 0.99, time.Second},
		{"under range", map[time.Duration]int{10 * time.Microsecond: 5}, 0.5, 50 * time.Microsecond},
		{"over range", map[time.Duration]int{time.Hour: 5}, 0.5, 100 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Histogram
			for d, n := range tt.samples {
				for range n {
					h.observe(d)
				}
			}
			checkQuantile(t, h, tt.q, tt.want)
		})
	}
}

func TestHistogramQuantileUniform(t *testing.T) {
	var h Histogram
	for i := 1; i <= 1000; i++ { // 1ms to 1s, evenly
		h.observe(time.Duration(i) * time.Millisecond)
	}
	for _, q := range []float64{0.01, 0.1, 0.5, 0.9, 0.95, 0.99} {
		checkQuantile(t, h, q, time.Duration(q*1000)*time.Millisecond)
	}
	for q, prev := 0.0, time.Duration(0); q <= 1; q += 0.01 {
		got := h.Quantile(q)
		if got < prev {
			t.Errorf("Quantile(%.2f) = %v, less than the quantile before it, %v", q, got, prev)
		}
		prev = got
	}
}

// checkQuantile checks h.Quantile(q) against want, within the histogram's
// resolution: a factor of 10^(1/5), one bucket's width.
func checkQuantile(t *testing.T, h Histogram, q float64, want time.Duration) {
	t.Helper()
	const factor = 1.585
	got := h.Quantile(q)
	if float64(got) < float64(want)/factor || float64(got) > float64(want)*factor {
		t.Errorf("Quantile(%v) = %v, want %v within a factor of %v", q, got, want, factor)
	}
}
