package hlc

import "testing"

func TestTimestampOrder(t *testing.T) {
	tests := []struct {
		ts         Timestamp
		next, prev Timestamp
	}{
		{Timestamp{}, Timestamp{Logical: 1}, Timestamp{}},
		{Timestamp{WallTime: 5}, Timestamp{WallTime: 5, Logical: 1}, Timestamp{WallTime: 4, Logical: 1<<31 - 1}},
		{Timestamp{WallTime: 5, Logical: 3}, Timestamp{WallTime: 5, Logical: 4}, Timestamp{WallTime: 5, Logical: 2}},
		{Timestamp{WallTime: 5, Logical: 1<<31 - 1}, Timestamp{WallTime: 6}, Timestamp{WallTime: 5, Logical: 1<<31 - 2}},
	}
	for _, tt := range tests {
		if got := tt.ts.Next(); got != tt.next || !tt.ts.Less(got) {
			t.Errorf("%s.Next() = %s, want %s", tt.ts, got, tt.next)
		}
		if got := tt.ts.Prev(); got != tt.prev || (!tt.ts.IsEmpty() && !got.Less(tt.ts)) {
			t.Errorf("%s.Prev() = %s, want %s", tt.ts, got, tt.prev)
		}
		if tt.ts.Forward(tt.ts.Next()) != tt.ts.Next() || tt.ts.Backward(tt.ts.Next()) != tt.ts {
			t.Errorf("%s: Forward/Backward wrong", tt.ts)
		}
		if !tt.ts.LessEq(tt.ts) || tt.ts.Less(tt.ts) || tt.ts.Compare(tt.ts) != 0 {
			t.Errorf("%s: not equal to itself", tt.ts)
		}
		if !tt.ts.Less(MaxTimestamp) {
			t.Errorf("%s not below MaxTimestamp", tt.ts)
		}
	}
	if s := (Timestamp{WallTime: 1_500_000_000, Logical: 2}).String(); s != "1.500000000,2" {
		t.Errorf("String() = %q", s)
	}
}
