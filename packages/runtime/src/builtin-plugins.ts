// The built-in architecture plugins register themselves when imported.
import '@quant/arch-gemma2';
import '@quant/arch-llama';
import '@quant/arch-phi2';
import '@quant/arch-phi3';
import '@quant/arch-qwen2';
