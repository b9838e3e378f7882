package reports

// Exact nearest-rank percentiles by selection: O(n) on average, no sort.

// rank is the 0-based index of the p-th percentile (0 < p ≤ 100) of n
// sorted values, by the nearest-rank method: ceil(p/100·n) - 1.
func rank(n int, p int) int {
	k := (p*n + 99) / 100
	return max(k, 1) - 1
}

// percentiles returns the median and the 90th percentile of v, by nearest
// rank. It reorders v. ok is false when v is empty.
func percentiles(v []int64) (median, p90 int64, ok bool) {
	if len(v) == 0 {
		return 0, 0, false
	}
	k50, k90 := rank(len(v), 50), rank(len(v), 90)
	median = selectK(v, k50)
	// selectK leaves every value at or above v[k50] after it.
	p90 = selectK(v[k50:], k90-k50)
	return median, p90, true
}

// selectK returns the k-th smallest (0-based) value of v, reordering v so
// that v[k] holds it, with values at or below it before and values at or
// above it after (Hoare's FIND, with Wirth's loop and a median-of-three
// pivot: runs of equal values, common in seconds, stay linear).
func selectK(v []int64, k int) int64 {
	l, r := 0, len(v)-1
	for l < r {
		a, b, c := v[l], v[l+(r-l)/2], v[r]
		x := max(min(a, b), min(max(a, b), c))
		i, j := l, r
		for i <= j {
			for v[i] < x {
				i++
			}
			for x < v[j] {
				j--
			}
			if i <= j {
				v[i], v[j] = v[j], v[i]
				i++
				j--
			}
		}
		if j < k {
			l = i
		}
		if k < i {
			r = j
		}
	}
	return v[k]
}
