"""bot/components/tfidf_response_selector.py: trains on the retrieval sub-intents, gives Rasa's
ResponseSelector output (what ActionRetrieveResponse and the tracker read), and survives persist/load."""

from __future__ import annotations

from pathlib import Path

import pytest
from rasa.core.processor import MessageProcessor
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.events import UserUttered
from rasa.shared.nlu.constants import INTENT, INTENT_RESPONSE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.components.tfidf_response_selector import TfidfResponseSelector

EXAMPLES = {
    "faq/free_trial": [
        "is there a free trial",
        "can I try it for free",
        "how long is the trial",
        "trial period?",
    ],
    "faq/pricing": ["how much does it cost", "what are your prices", "price of the pro plan", "pricing page"],
    "chitchat/weather": ["how is the weather", "is it raining", "nice weather today", "weather forecast"],
}
RESPONSES = {f"utter_{key}": [{"text": f"answer to {key}"}] for key in EXAMPLES}


def training_data() -> TrainingData:
    retrieval = [
        Message(data={TEXT: text, INTENT: key.split("/")[0], INTENT_RESPONSE_KEY: key})
        for key, texts in EXAMPLES.items()
        for text in texts
    ]
    plain = [
        Message(data={TEXT: "hello there", INTENT: "greet"}),
        Message(data={TEXT: "hi", INTENT: "greet"}),
    ]
    return TrainingData(retrieval + plain, responses=RESPONSES)


@pytest.fixture
def trained(tmp_path: Path) -> tuple[LocalModelStorage, Resource, ExecutionContext]:
    storage = LocalModelStorage(tmp_path)
    resource = Resource("response_selector")
    context = ExecutionContext(GraphSchema({}), node_name="response_selector")
    TfidfResponseSelector.create({}, storage, resource, context).train(training_data())
    return storage, resource, context


def parse(selector: TfidfResponseSelector, text: str) -> dict:
    [message] = selector.process([Message(data={TEXT: text, INTENT: {"name": "faq", "confidence": 0.9}})])
    return message.as_dict_nlu()


def test_a_loaded_selector_picks_the_sub_intent_and_names_its_response(trained) -> None:
    selector = TfidfResponseSelector.load({}, *trained)
    parsed = parse(selector, "is there a trial I can use for free?")

    selected = parsed["response_selector"]["default"]
    assert selected["response"]["intent_response_key"] == "faq/free_trial"
    assert selected["response"]["utter_action"] == "utter_faq/free_trial"
    assert selected["response"]["responses"] == [{"text": "answer to faq/free_trial"}]
    assert 0.5 < selected["response"]["confidence"] <= 1.0
    ranking = selected["ranking"]
    assert [entry["intent_response_key"] for entry in ranking][0] == "faq/free_trial"
    assert sum(entry["confidence"] for entry in ranking) == pytest.approx(1.0)
    assert sorted(parsed["response_selector"]["all_retrieval_intents"]) == ["chitchat", "faq"]


def test_each_retrieval_intent_gets_a_selection_among_its_own_responses(trained) -> None:
    selector = TfidfResponseSelector.load({}, *trained)
    parsed = parse(selector, "what's the weather like")

    assert parsed["response_selector"]["default"]["response"]["intent_response_key"] == "chitchat/weather"
    # utter_faq reads the `faq` key: a faq answer even when the text is closer to chitchat.
    faq = parsed["response_selector"]["faq"]
    assert faq["response"]["intent_response_key"].startswith("faq/")
    assert {entry["intent_response_key"] for entry in faq["ranking"]} == {"faq/free_trial", "faq/pricing"}
    assert sum(entry["confidence"] for entry in faq["ranking"]) == pytest.approx(1.0)
    assert parsed["response_selector"]["chitchat"]["response"]["intent_response_key"] == "chitchat/weather"


def test_rasa_records_the_full_retrieval_intent_from_its_output(trained) -> None:
    selector = TfidfResponseSelector.load({}, *trained)
    [message] = selector.process([Message(data={TEXT: "is it raining", INTENT: {"name": "chitchat"}})])
    parse_data = message.as_dict_nlu()
    MessageProcessor._update_full_retrieval_intent(None, parse_data)  # type: ignore[arg-type]
    event = UserUttered(parse_data[TEXT], parse_data[INTENT], parse_data=parse_data)
    assert event.full_retrieval_intent_name == "chitchat/weather"


def test_text_less_messages_are_left_alone(trained) -> None:
    selector = TfidfResponseSelector.load({}, *trained)
    [message] = selector.process([Message(data={})])
    assert message.get("response_selector") is None
