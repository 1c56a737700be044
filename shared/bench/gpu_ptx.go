package bench

// ptxEntry is the kernel's name in ptxSource.
const ptxEntry = "fma_loop"

// ptxFMAsPerIteration is how many FMAs one thread runs per loop iteration of
// ptxSource; the FLOP count of a launch depends on it, and a test checks it
// against the text.
const ptxFMAsPerIteration = 32

// ptxSource is the GPU benchmark's kernel, written by hand in PTX so that no
// CUDA toolkit is needed to build or ship the agent: the driver compiles it
// for whatever GPU it finds (cuModuleLoadData JIT-compiles PTX).
//
// ISA 6.0 for sm_50 is accepted by every driver since CUDA 9 (2017) and runs
// on every GPU from Maxwell on. Each thread runs eight independent chains
// a ← a·m + c — eight, so the FMA pipes never wait on a result — unrolled
// four times per iteration so the loop's own counter and branch are a small
// share of the instructions; iters is a parameter, so the compiler cannot
// fold the loop. m just below 1 keeps every chain near 1: no overflow, no
// denormals to slow it. The sum of the chains is stored per thread so the
// work has an observable result and is not eliminated.
//
// Parameters: out, a device pointer to one float per thread of the grid;
// iters, the number of iterations.
const ptxSource = `//
// Idlegrid GPU benchmark: FP32 FMA throughput.
//
.version 6.0
.target sm_50
.address_size 64

.visible .entry fma_loop(
	.param .u64 fma_loop_out,
	.param .u32 fma_loop_iters
)
{
	.reg .pred	%p<2>;
	.reg .b32	%r<6>;
	.reg .f32	%f<10>;
	.reg .b64	%rd<5>;

	ld.param.u64	%rd1, [fma_loop_out];
	ld.param.u32	%r1, [fma_loop_iters];
	mov.u32	%r2, %ctaid.x;
	mov.u32	%r3, %ntid.x;
	mov.u32	%r4, %tid.x;
	mad.lo.s32	%r5, %r2, %r3, %r4;
	// Seeds differ per thread and per chain: 1, 1.125 … 1.875, plus the
	// thread's index times 2^-24.
	cvt.rn.f32.u32	%f9, %r5;
	mul.f32	%f9, %f9, 0f33800000;
	add.f32	%f1, %f9, 0f3F800000;
	add.f32	%f2, %f9, 0f3F900000;
	add.f32	%f3, %f9, 0f3FA00000;
	add.f32	%f4, %f9, 0f3FB00000;
	add.f32	%f5, %f9, 0f3FC00000;
	add.f32	%f6, %f9, 0f3FD00000;
	add.f32	%f7, %f9, 0f3FE00000;
	add.f32	%f8, %f9, 0f3FF00000;
	setp.eq.s32	%p1, %r1, 0;
	@%p1 bra	$Ldone;

$Lloop:
	// m = 0.999999 (0f3F7FFFEF), c = 1e-6 (0f358637BD)
	fma.rn.f32	%f1, %f1, 0f3F7FFFEF, 0f358637BD;
	fma.rn.f32	%f2, %f2, 0f3F7FFFEF, 0f358637BD;
	fma.rn.f32	%f3, %f3, 0f3F7FFFEF, 0f358637BD;
	fma.rn.f32	%f4, %f4, 0f3F7FFFEF, 0f358637BD;
	fma.rn.f32	%f5, %f5, 0f3F7FFFEF, 0f358637BD;
	fma.rn.f32	%f6, %f6, 0f3F7FFFEF, 0f358637BD;
	fma.rn.f32	%f7, %f7, 0f3F7FFFEF, 0f358637BD;
	fma.rn.f32	%f8, %f8, 0f3F7FFFEF, 0f358637BD;
	fma.rn.f32	%f1, %f1, 0f3F7FFFEF, 0f358637BD;
	fma.rn.f32	%f2, %f2, 0f3F7FFFEF, 0f358637BD;
	fma.rn.f32	%f3, %f3, 0f3F7FFFEF, 0f358637BD;
	fma.rn.f32	%f4, %f4, 0f3F7FFFEF, 0f358637BD;
	fma.rn.f32	%f5, %f5, 0f3F7FFFEF, 0f358637BD;
	fma.rn.f32	%f6, %f6, 0f3F7FFFEF, 0f358637BD;
	fma.rn.f32	%f7, %f7, 0f3F7FFFEF, 0f358637BD;
	fma.rn.f32	%f8, %f8, 0f3F7FFFEF, 0f358637BD;
	fma.rn.f32	%f1, %f1, 0f3F7FFFEF, 0f358637BD;
	fma.rn.f32	%f2, %f2, 0f3F7FFFEF, 0f358637BD;
	fma.rn.f32	%f3, %f3, 0f3F7FFFEF, 0f358637BD;
	fma.rn.f32	%f4, %f4, 0f3F7FFFEF, 0f358637BD;
	fma.rn.f32	%f5, %f5, 0f3F7FFFEF, 0f358637BD;
	fma.rn.f32	%f6, %f6, 0f3F7FFFEF, 0f358637BD;
	fma.rn.f32	%f7, %f7, 0f3F7FFFEF, 0f358637BD;
	fma.rn.f32	%f8, %f8, 0f3F7FFFEF, 0f358637BD;
	fma.rn.f32	%f1, %f1, 0f3F7FFFEF, 0f358637BD;
	fma.rn.f32	%f2, %f2, 0f3F7FFFEF, 0f358637BD;
	fma.rn.f32	%f3, %f3, 0f3F7FFFEF, 0f358637BD;
	fma.rn.f32	%f4, %f4, 0f3F7FFFEF, 0f358637BD;
	fma.rn.f32	%f5, %f5, 0f3F7FFFEF, 0f358637BD;
	fma.rn.f32	%f6, %f6, 0f3F7FFFEF, 0f358637BD;
	fma.rn.f32	%f7, %f7, 0f3F7FFFEF, 0f358637BD;
	fma.rn.f32	%f8, %f8, 0f3F7FFFEF, 0f358637BD;
	sub.s32	%r1, %r1, 1;
	setp.ne.s32	%p1, %r1, 0;
	@%p1 bra	$Lloop;

$Ldone:
	add.f32	%f1, %f1, %f2;
	add.f32	%f3, %f3, %f4;
	add.f32	%f5, %f5, %f6;
	add.f32	%f7, %f7, %f8;
	add.f32	%f1, %f1, %f3;
	add.f32	%f5, %f5, %f7;
	add.f32	%f1, %f1, %f5;
	cvta.to.global.u64	%rd2, %rd1;
	mul.wide.u32	%rd3, %r5, 4;
	add.s64	%rd4, %rd2, %rd3;
	st.global.f32	[%rd4], %f1;
	ret;
}
`
