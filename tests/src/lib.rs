//! Black-box tests of Hermes Host, and the doubles they run against: [`mock_llm`], a
//! local model server speaking the OpenAI and Anthropic wire formats.

pub mod mock_llm;
