package outcomes

import (
	"reflect"
	"testing"
)

func TestBatchesKeepBothLimits(t *testing.T) {
	t.Parallel()
	sizes := func(ns ...int) []entry {
		es := make([]entry, len(ns))
		for i, n := range ns {
			es[i] = entry{index: i, size: n}
		}
		return es
	}
	tests := []struct {
		name  string
		in    []entry
		wantN []int // entries per batch
	}{
		{"none", nil, nil},
		{"ten small fit one batch", sizes(1, 1, 1, 1, 1, 1, 1, 1, 1, 1), []int{10}},
		{"eleven small need two", sizes(1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1), []int{10, 1}},
		{"bytes split before the limit", sizes(100000, 100000, 100000), []int{2, 1}},
		{"exactly the byte limit fits", sizes(MaxBatchBytes-10, 10), []int{2}},
		{"one byte over splits", sizes(MaxBatchBytes-10, 11), []int{1, 1}},
		{"a full-size message goes alone", sizes(5, MaxBatchBytes, 5), []int{1, 1, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got []int
			next := 0
			for _, b := range batches(tt.in) {
				got = append(got, len(b))
				total := 0
				for _, e := range b {
					if e.index != next {
						t.Errorf("entry order: got index %d; want %d", e.index, next)
					}
					next++
					total += e.size
				}
				if len(b) > MaxBatchEntries || total > MaxBatchBytes {
					t.Errorf("batch of %d entries, %d bytes: got over a limit; want within %d and %d", len(b), total, MaxBatchEntries, MaxBatchBytes)
				}
			}
			if !reflect.DeepEqual(got, tt.wantN) {
				t.Errorf("got batches %v; want %v", got, tt.wantN)
			}
		})
	}
}
