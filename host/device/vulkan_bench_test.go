package device_test

import (
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/stark-rt/stark/host/device"
)

type vkNamedBackend struct {
	name string
	be   device.Backend
}

// vkBenchBackends returns the vulkan plugin (when built and usable here) and
// the built-in cpu backend, for side-by-side benchmarks.
func vkBenchBackends(b *testing.B) []vkNamedBackend {
	var out []vkNamedBackend
	if p := vkTryLoad(b); p != nil {
		out = append(out, vkNamedBackend{"vulkan", p})
	}
	cpu := device.NewCPU()
	b.Cleanup(func() { _ = cpu.Close() })
	return append(out, vkNamedBackend{"cpu", cpu})
}

// vkTryLoad loads the plugin, or logs why it is not benchmarked.
func vkTryLoad(b *testing.B) *device.Plugin {
	path := pluginPath("vulkan")
	info, err := device.Probe(path)
	if err != nil || info.Score == 0 {
		b.Logf("vulkan not benchmarked: %s: %v (score %d)", path, err, info.Score)
		return nil
	}
	p, err := device.LoadPlugin(path, "")
	if err != nil {
		b.Logf("vulkan not benchmarked: %v", err)
		return nil
	}
	b.Cleanup(func() { _ = p.Close() })
	return p
}

func vkBenchUpload(b *testing.B, be device.Backend, n int) uint64 {
	b.Helper()
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(i%13)/7 - 0.9
	}
	return vkUpload(b, be, v)
}

// BenchmarkVulkanLaunchOverhead: the cost of one tiny op (ADD of 16
// floats, synchronous) through the plugin path (purego call, validation,
// command recording, queue submission, fence wait) against the built-in
// cpu backend; "µs/op" is the per-op launch overhead. The parallel case
// runs GOMAXPROCS goroutines launching at once (throughput, per op).
func BenchmarkVulkanLaunchOverhead(b *testing.B) {
	for _, c := range vkBenchBackends(b) {
		be := c.be
		ha, hb, hc := vkBenchUpload(b, be, 16), vkBenchUpload(b, be, 16), vkBenchUpload(b, be, 16)
		op := device.Op{Kind: device.OpAdd, A: device.Ptr{Handle: ha}, B: device.Ptr{Handle: hb}, C: device.Ptr{Handle: hc}, N: 16}
		if err := be.Launch(&op); err != nil { // warm: pipelines, a submission context
			b.Fatalf("%s: %v", c.name, err)
		}
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if err := be.Launch(&op); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e3, "µs/op")
		})
		b.Run(c.name+"-parallel", func(b *testing.B) {
			var failed atomic.Value
			b.RunParallel(func(pb *testing.PB) {
				o := op
				for pb.Next() {
					if err := be.Launch(&o); err != nil {
						failed.Store(err)
						return
					}
				}
			})
			if err, _ := failed.Load().(error); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e3, "µs/op")
		})
	}
}

// BenchmarkVulkanMatmul: C = A*B for square f32 matrices (512, 1024) on
// the vulkan plugin (lavapipe here: the GPU is the CPU) and the cpu
// backend, in GFLOP/s (2n^3 per product). Reported, no goal.
func BenchmarkVulkanMatmul(b *testing.B) {
	for _, c := range vkBenchBackends(b) {
		be := c.be
		for _, n := range []int{512, 1024} {
			ha, hb, hc := vkBenchUpload(b, be, n*n), vkBenchUpload(b, be, n*n), vkBenchUpload(b, be, n*n)
			op := device.Op{Kind: device.OpMatmul, A: device.Ptr{Handle: ha}, B: device.Ptr{Handle: hb}, C: device.Ptr{Handle: hc},
				M: uint64(n), N: uint64(n), K: uint64(n), Alpha: 1}
			if err := be.Launch(&op); err != nil {
				b.Fatalf("%s: %v", c.name, err)
			}
			b.Run(c.name+"/"+strconv.Itoa(n), func(b *testing.B) {
				for b.Loop() {
					if err := be.Launch(&op); err != nil {
						b.Fatal(err)
					}
				}
				flops := 2 * float64(n) * float64(n) * float64(n) * float64(b.N)
				b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// BenchmarkPluginPath isolates what the plugin path itself costs per call
// (a purego call into the plugin, argument checks, the status back): an
// op_supported query, which every backend answers without touching the
// device, through the vulkan plugin against the same question asked of
// the built-in cpu backend. The rest of BenchmarkVulkanLaunchOverhead's
// figure is the driver's (lavapipe's submit and fence wait).
func BenchmarkPluginPath(b *testing.B) {
	for _, c := range vkBenchBackends(b) {
		be := c.be
		h := vkBenchUpload(b, be, 16)
		op := device.Op{Kind: device.OpAdd, A: device.Ptr{Handle: h}, B: device.Ptr{Handle: h}, C: device.Ptr{Handle: h}, N: 16}
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if !be.Supported(&op) {
					b.Fatal("add f32 unsupported")
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e3, "µs/op")
		})
	}
}
