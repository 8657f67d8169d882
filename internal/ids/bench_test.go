package ids_test

import (
	"testing"

	"github.com/roost-dev/roost/internal/ids"
)

func BenchmarkFromName(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		ids.FromName("counter", "room-42")
	}
}

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ids.Parse(sample); err != nil {
			b.Fatal(err)
		}
	}
}
