//go:build linux || windows

package bench

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"
	"unsafe"

	"github.com/ebitengine/purego"
)

// cudaAPI is the slice of the CUDA driver API the benchmark uses, bound at
// run time with purego: no toolkit, no cgo. Handles (CUcontext, CUmodule,
// CUfunction) are opaque pointers, CUdevice an int, CUdeviceptr 64 bits.
type cudaAPI struct {
	init               func(flags uint32) cuResult
	deviceGetCount     func(count *int32) cuResult
	deviceGet          func(dev *int32, ordinal int32) cuResult
	deviceGetName      func(name *byte, size int32, dev int32) cuResult
	deviceGetAttribute func(value *int32, attr int32, dev int32) cuResult
	ctxCreate          func(ctx *uintptr, flags uint32, dev int32) cuResult
	ctxDestroy         func(ctx uintptr) cuResult
	ctxSynchronize     func() cuResult
	moduleLoadData     func(mod *uintptr, image *byte) cuResult
	moduleUnload       func(mod uintptr) cuResult
	moduleGetFunction  func(fn *uintptr, mod uintptr, name string) cuResult
	memAlloc           func(dptr *uint64, size uintptr) cuResult
	memFree            func(dptr uint64) cuResult
	memcpyDtoD         func(dst, src uint64, size uintptr) cuResult
	launchKernel       func(fn uintptr, gridX, gridY, gridZ, blockX, blockY, blockZ, sharedMem uint32,
		stream uintptr, params *unsafe.Pointer, extra *unsafe.Pointer) cuResult
}

// bindCUDA binds every function through lookup, which finds a symbol in the
// loaded library. The _v2 names are the 64-bit-pointer entry points cuda.h
// maps the plain names to; binding them explicitly is what cuda.h's macros
// would have done at compile time.
func bindCUDA(lookup func(name string) (uintptr, error)) (*cudaAPI, error) {
	cu := new(cudaAPI)
	syms := []struct {
		fptr any
		name string
	}{
		{&cu.init, "cuInit"},
		{&cu.deviceGetCount, "cuDeviceGetCount"},
		{&cu.deviceGet, "cuDeviceGet"},
		{&cu.deviceGetName, "cuDeviceGetName"},
		{&cu.deviceGetAttribute, "cuDeviceGetAttribute"},
		{&cu.ctxCreate, "cuCtxCreate_v2"},
		{&cu.ctxDestroy, "cuCtxDestroy_v2"},
		{&cu.ctxSynchronize, "cuCtxSynchronize"},
		{&cu.moduleLoadData, "cuModuleLoadData"},
		{&cu.moduleUnload, "cuModuleUnload"},
		{&cu.moduleGetFunction, "cuModuleGetFunction"},
		{&cu.memAlloc, "cuMemAlloc_v2"},
		{&cu.memFree, "cuMemFree_v2"},
		{&cu.memcpyDtoD, "cuMemcpyDtoD_v2"},
		{&cu.launchKernel, "cuLaunchKernel"},
	}
	var missing []string
	for _, s := range syms {
		addr, err := lookup(s.name)
		if err != nil || addr == 0 {
			missing = append(missing, s.name)
			continue
		}
		purego.RegisterFunc(s.fptr, addr)
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("finding %s in the driver", strings.Join(missing, ", "))
	}
	return cu, nil
}

const (
	// attrMultiprocessorCount is CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT.
	attrMultiprocessorCount = 16
	gpuThreadsPerBlock      = 256
	// gpuBlocksPerSM fills each multiprocessor with 2048 threads, the most
	// any of them keeps resident, several waves over on smaller ones.
	gpuBlocksPerSM = 8
	// gpuLaunchTarget bounds one kernel launch: long enough that launch
	// overhead is noise, well under the 2 s after which Windows' display
	// watchdog resets a GPU that is also driving a screen.
	gpuLaunchTarget = 200 * time.Millisecond
	gpuCopyMax      = 256 << 20 // device-to-device copy buffer, halved until it fits
	gpuCopyMin      = 16 << 20
)

// cudaBenchmark loads the driver from lib and measures each GPU. skipped is
// set when the driver is missing or unusable; a card that fails alone gets
// its own Reason. err is only ever ctx's.
func cudaBenchmark(ctx context.Context, lib string, opt Options, step stepFunc) (gpus []GPUResult, skipped string, err error) {
	lookup, err := openLibrary(lib)
	if err != nil {
		return nil, libraryMissingReason(lib, err), nil
	}
	cu, err := bindCUDA(lookup)
	if err != nil {
		return nil, fmt.Sprintf("the NVIDIA CUDA driver (%s) is too old or incomplete: %v", lib, err), nil
	}

	// A CUDA context is current on the OS thread that made it: every call
	// of the run must come from that one thread.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	if err := check("starting the CUDA driver", cu.init(0)); err != nil {
		return nil, err.Error(), nil
	}
	var count int32
	if err := check("counting GPUs", cu.deviceGetCount(&count)); err != nil {
		return nil, err.Error(), nil
	}
	if count == 0 {
		return nil, "the NVIDIA CUDA driver reports no GPU", nil
	}
	for i := range int(count) {
		sub := func(s string, f float64) { step(s, (float64(i)+f)/float64(count)) }
		g, err := cu.benchDevice(ctx, i, opt.PerKind, sub)
		if err != nil {
			return nil, "", err
		}
		gpus = append(gpus, g)
	}
	return gpus, "", nil
}

// benchDevice measures one GPU in a context of its own. Driver failures
// become the card's Reason; only ctx's error is returned.
func (cu *cudaAPI) benchDevice(ctx context.Context, ordinal int, budget time.Duration, step stepFunc) (GPUResult, error) {
	g := GPUResult{Index: ordinal, Name: fmt.Sprintf("GPU %d", ordinal)}
	fail := func(err error) (GPUResult, error) {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return GPUResult{}, ctxErr
		}
		g.FP32TFLOPS, g.MemGBps, g.Reason = 0, 0, err.Error()
		return g, nil
	}

	var dev int32
	if err := check("opening the GPU", cu.deviceGet(&dev, int32(ordinal))); err != nil {
		return fail(err)
	}
	name := make([]byte, 256)
	if cu.deviceGetName(&name[0], int32(len(name)), dev) == cudaSuccess {
		if n := strings.IndexByte(string(name), 0); n > 0 {
			g.Name = string(name[:n])
		}
	}
	var cctx uintptr
	if err := check("creating a CUDA context", cu.ctxCreate(&cctx, 0, dev)); err != nil {
		return fail(err)
	}
	defer cu.ctxDestroy(cctx) // nothing to do about a failure while tearing down

	step(fmt.Sprintf("GPU %d (%s): FP32 compute", ordinal, g.Name), 0)
	tflops, err := cu.fp32TFLOPS(ctx, dev, budget)
	if err != nil {
		return fail(fmt.Errorf("measuring FP32 throughput: %w", err))
	}
	step(fmt.Sprintf("GPU %d (%s): memory bandwidth", ordinal, g.Name), 0.5)
	gbps, err := cu.copyGBps(ctx, budget)
	if err != nil {
		return fail(fmt.Errorf("measuring memory bandwidth: %w", err))
	}
	g.FP32TFLOPS, g.MemGBps, g.Available = tflops, gbps, true
	return g, nil
}

// fp32TFLOPS launches the PTX kernel over the whole GPU for budget and
// returns 10^12 FP32 operations per second, an FMA counting as two. Launch
// times are taken on the host around synchronised launches.
func (cu *cudaAPI) fp32TFLOPS(ctx context.Context, dev int32, budget time.Duration) (float64, error) {
	image := append([]byte(ptxSource), 0) // the driver reads PTX as a C string
	var mod uintptr
	if err := check("compiling the benchmark kernel", cu.moduleLoadData(&mod, &image[0])); err != nil {
		return 0, err
	}
	defer cu.moduleUnload(mod) // the context's destruction frees it anyway
	var fn uintptr
	if err := check("finding the benchmark kernel", cu.moduleGetFunction(&fn, mod, ptxEntry)); err != nil {
		return 0, err
	}
	var sms int32
	if err := check("counting multiprocessors", cu.deviceGetAttribute(&sms, attrMultiprocessorCount, dev)); err != nil {
		return 0, err
	}
	blocks := uint32(max(sms, 1)) * gpuBlocksPerSM
	threads := uint64(blocks) * gpuThreadsPerBlock

	var out uint64
	if err := check("allocating GPU memory", cu.memAlloc(&out, uintptr(threads*4))); err != nil {
		return 0, err
	}
	defer cu.memFree(out)

	run := func(iters uint32) (time.Duration, error) {
		start := time.Now()
		if err := cu.launch(fn, blocks, out, iters); err != nil {
			return 0, err
		}
		if err := check("running the benchmark kernel", cu.ctxSynchronize()); err != nil {
			return 0, err
		}
		return time.Since(start), nil
	}

	// Calibrate: a short launch (after a first one that pays for any lazy
	// set-up) sizes the launches that count to about gpuLaunchTarget.
	const probe = 1 << 10
	if _, err := run(probe); err != nil {
		return 0, err
	}
	t, err := run(probe)
	if err != nil {
		return 0, err
	}
	target := min(gpuLaunchTarget, budget)
	iters := uint32(min(max(float64(probe)*target.Seconds()/max(t.Seconds(), 1e-6), probe), 1<<30))

	var flops float64
	var elapsed time.Duration
	for elapsed < budget {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		d, err := run(iters)
		if err != nil {
			return 0, err
		}
		elapsed += d
		flops += 2 * ptxFMAsPerIteration * float64(iters) * float64(threads)
	}
	return flops / elapsed.Seconds() / 1e12, nil
}

// launch starts the kernel on blocks×gpuThreadsPerBlock threads. The driver
// reads kernel arguments through an array of pointers to them; both live in
// Go memory, pinned for the call so the garbage collector neither moves nor
// frees them while the driver holds their addresses.
func (cu *cudaAPI) launch(fn uintptr, blocks uint32, out uint64, iters uint32) error {
	args := &struct {
		out   uint64
		iters uint32
	}{out, iters}
	params := &[2]unsafe.Pointer{unsafe.Pointer(&args.out), unsafe.Pointer(&args.iters)}
	var pin runtime.Pinner
	pin.Pin(args)
	pin.Pin(params)
	defer pin.Unpin() // cuLaunchKernel copies the arguments before returning
	return check("launching the benchmark kernel",
		cu.launchKernel(fn, blocks, 1, 1, gpuThreadsPerBlock, 1, 1, 0, 0, &params[0], nil))
}

// copyGBps copies one device buffer into another for budget and returns
// 10^9 bytes per second counting each byte read and written, as the CPU
// memory test does.
func (cu *cudaAPI) copyGBps(ctx context.Context, budget time.Duration) (float64, error) {
	src, dst, size, err := cu.allocPair()
	if err != nil {
		return 0, err
	}
	defer cu.memFree(src)
	defer cu.memFree(dst)

	// Copies are queued without waiting, so they are issued in batches
	// that are timed together; the batch doubles until it takes long
	// enough for the synchronisation to be noise.
	batch := 1
	var copied float64
	var elapsed time.Duration
	for first := true; elapsed < budget; first = false {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		start := time.Now()
		for range batch {
			if err := check("copying GPU memory", cu.memcpyDtoD(dst, src, uintptr(size))); err != nil {
				return 0, err
			}
		}
		if err := check("waiting for the copies", cu.ctxSynchronize()); err != nil {
			return 0, err
		}
		d := time.Since(start)
		if first {
			continue // warm-up: first touches of the buffers
		}
		elapsed += d
		copied += 2 * float64(size) * float64(batch)
		if d < 20*time.Millisecond && batch < 1<<12 {
			batch *= 2
		}
	}
	return copied / elapsed.Seconds() / 1e9, nil
}

// allocPair allocates two equal buffers, halving from gpuCopyMax while the
// GPU is out of memory (it may be busy with a game).
func (cu *cudaAPI) allocPair() (src, dst uint64, size int64, err error) {
	for size = gpuCopyMax; ; size /= 2 {
		err = check("allocating GPU memory", cu.memAlloc(&src, uintptr(size)))
		if err == nil {
			err = check("allocating GPU memory", cu.memAlloc(&dst, uintptr(size)))
			if err == nil {
				return src, dst, size, nil
			}
			cu.memFree(src)
		}
		var ce *cudaError
		if !errors.As(err, &ce) || ce.code != cudaErrorOutOfMemory || size/2 < gpuCopyMin {
			return 0, 0, 0, err
		}
	}
}
