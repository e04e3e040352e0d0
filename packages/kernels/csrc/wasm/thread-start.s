# Entry point of a wasm worker thread (wasm/quant-kernels-mt.wasm only; see csrc/threadpool.c).
# The host calls wasi_thread_start(tid, start_arg) in the worker's instance; before any C code runs,
# the instance's stack pointer must move to the thread's own stack (start_arg's first word), since
# every instance starts with the main thread's. Same convention as wasi-libc's wasi_thread_start.
	.text
	.globaltype __stack_pointer, i32
	.functype qk_wasm_thread_entry (i32, i32) -> ()
	.export_name wasi_thread_start, wasi_thread_start
	.globl wasi_thread_start
	.type wasi_thread_start,@function
wasi_thread_start:
	.functype wasi_thread_start (i32, i32) -> ()
	local.get 1
	i32.load 0
	global.set __stack_pointer
	local.get 0
	local.get 1
	call qk_wasm_thread_entry
	end_function
